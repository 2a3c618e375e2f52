"""The one path from documents to a verdict that every door (CLI, API, operator) shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ObjectRef, Problem
from .manifests import Document
from .model import CustomerAlert, CustomerReceiver, Resource
from .render import Rendered, render
from .render.platform import PlatformConfig
from .validate import Parsed, flagged_index, is_flagged, parse_documents, validate_all


@dataclass
class Outcome:
    parsed: list[Parsed]
    problems: list[Problem]
    invalid: set[ObjectRef] = field(default_factory=set)
    # Customers that own an invalid alert; None when some invalid input (broken YAML, a
    # document naming no customer) could hold an alert of any customer.
    invalid_alert_owners: set[str] | None = field(default_factory=set)
    # Likewise for receivers: these customers keep their part of alertmanager.yml.
    invalid_receiver_owners: set[str] | None = field(default_factory=set)

    @property
    def valid(self) -> list[Resource]:
        index = flagged_index(self.problems)
        return [p.obj for p in self.parsed if not is_flagged(p, index)]

    @property
    def ok(self) -> bool:
        return not self.problems


def evaluate(
    documents: Sequence[Document],
    platform: PlatformConfig | None = None,
    tools: bool = True,
    earlier: Sequence[Problem] = (),
) -> Outcome:
    """Parse and validate; `earlier` carries problems found while loading (bad YAML)."""
    rejected: list[Document] = []
    parsed, problems = parse_documents(documents, rejected)
    problems = [*earlier, *problems, *validate_all(parsed, platform, tools)]
    invalid = {p.obj for p in problems if p.obj is not None}
    ordered = _in_input_order(problems, parsed)
    alerts = None if earlier else _invalid_owners(parsed, rejected, problems, CustomerAlert)
    receivers = None if earlier else _invalid_owners(parsed, rejected, problems, CustomerReceiver)
    return Outcome(parsed, ordered, invalid, alerts, receivers)


def _invalid_owners(
    parsed: Sequence[Parsed],
    rejected: Sequence[Document],
    problems: Sequence[Problem],
    kind: type[CustomerAlert] | type[CustomerReceiver],
) -> set[str] | None:
    """Whose objects of `kind` are invalid, so that a customer's live output is not
    mistaken for deleted (`render` drops what the input no longer holds)."""
    index = flagged_index(problems)
    owners = {
        p.obj.spec.customer_id for p in parsed if isinstance(p.obj, kind) and is_flagged(p, index)
    }
    other = "CustomerReceiver" if kind is CustomerAlert else "CustomerAlert"
    for doc in rejected:
        data = doc.data if isinstance(doc.data, dict) else {}
        if data.get("kind") == other:
            continue  # an unknown or missing kind may be a misspelt `kind`
        owner = claimed_customer(data)
        if owner is None:
            return None
        owners.add(owner)
    return owners


def claimed_customer(data: dict[str, Any]) -> str | None:
    """The customer a document that failed to parse was meant for, as far as it says:
    its customer id however spelt, else its namespace (conventionally the customer's)."""
    spec, meta = data.get("spec"), data.get("metadata")
    for value in (
        spec.get("customerId") if isinstance(spec, dict) else None,
        spec.get("customer_id") if isinstance(spec, dict) else None,
        meta.get("namespace") if isinstance(meta, dict) else None,
    ):
        if isinstance(value, str) and value:
            return value
    return None


def render_valid(outcome: Outcome, platform: PlatformConfig) -> Rendered:
    return render(outcome.valid, platform)


def _in_input_order(problems: list[Problem], parsed: Sequence[Parsed]) -> list[Problem]:
    """Problems in input order: by file as first seen, then document, then as found."""
    seen: dict[str, tuple[int, int]] = {}
    for src in [p.source for p in parsed] + [p.source for p in problems]:
        if src is not None:
            seen.setdefault(src.file, (src.order, len(seen)))
    # Read order when the loader recorded it, else order of first appearance.
    files = {name: n for n, name in enumerate(sorted(seen, key=seen.__getitem__))}
    rank = {id(p): n for n, p in enumerate(problems)}

    def key(p: Problem) -> tuple[int, int, int]:
        if p.source is None:
            return (len(files), 0, rank[id(p)])
        return (files[p.source.file], p.source.document, rank[id(p)])

    return sorted(problems, key=key)

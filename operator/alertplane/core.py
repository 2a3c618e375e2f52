"""The one path from documents to a verdict that every door (CLI, API, operator) shares.

`admit(documents, policy)` (admission.py) decides for every door whether a write is taken
and what only marks the object Invalid; `evaluate` is its dry run (`validate`, `render`,
`POST /validate`), with what `render` needs to keep a customer's last good output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .admission import (
    DISABLE,
    DRY_RUN,
    RECONCILE,
    WRITE,
    Admission,
    Policy,
    Taken,
    admit,
    taken,
)
from .errors import ObjectRef, Problem
from .manifests import Document, claimed_customer
from .model import Resource
from .model.kinds import ALERTMANAGER, BY_KIND, RULES
from .render import Rendered, render
from .render.platform import PlatformConfig
from .validate import Parsed, flagged_index, is_flagged

__all__ = [
    "DISABLE",
    "DRY_RUN",
    "RECONCILE",
    "WRITE",
    "Admission",
    "Outcome",
    "Policy",
    "Taken",
    "admit",
    "evaluate",
    "render_valid",
    "taken",
]


@dataclass
class Outcome:
    parsed: list[Parsed]
    problems: list[Problem]
    invalid: set[ObjectRef] = field(default_factory=set)
    # Customers that own an invalid object of a kind rendered into the rules file (an
    # alert, a recording rule); None when some invalid input (broken YAML, a document
    # naming no customer) could hold such an object of any customer.
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
    existing: Sequence[Taken] = (),
) -> Outcome:
    """The dry run: every problem of every stage; `earlier` carries problems found while
    loading (bad YAML)."""
    admission = admit(documents, DRY_RUN.with_tools(tools), platform, existing, earlier)
    parsed, rejected, problems = admission.parsed, admission.rejected, admission.problems
    invalid = {p.obj for p in problems if p.obj is not None}
    ordered = problems
    alerts = None if earlier else _invalid_owners(parsed, rejected, problems, RULES)
    receivers = None if earlier else _invalid_owners(parsed, rejected, problems, ALERTMANAGER)
    return Outcome(parsed, ordered, invalid, alerts, receivers)


def _invalid_owners(
    parsed: Sequence[Parsed],
    rejected: Sequence[Document],
    problems: Sequence[Problem],
    output: str,
) -> set[str] | None:
    """Whose objects rendered into `output` (model/kinds.py: rules or alertmanager) are
    invalid, so that a customer's live output is not mistaken for deleted (`render` drops
    what the input no longer holds)."""
    index = flagged_index(problems)
    owners = {
        p.obj.spec.customer_id
        for p in parsed
        if BY_KIND[p.obj.kind].output == output and is_flagged(p, index)
    }
    for doc in rejected:
        data = doc.data if isinstance(doc.data, dict) else {}
        known = BY_KIND.get(str(data.get("kind")))
        if known is not None and known.output != output:
            continue  # an unknown or missing kind may be a misspelt `kind`
        owner = claimed_customer(data)
        if owner is None:
            return None
        owners.add(owner)
    return owners


def render_valid(outcome: Outcome, platform: PlatformConfig) -> Rendered:
    return render(outcome.valid, platform)

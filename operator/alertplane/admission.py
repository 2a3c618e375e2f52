"""Admission: the one decision, shared by every door, whether a write is taken.

Every door — `alertplane apply`/`validate`/`render`/`rollback`, the REST API (POST, PUT,
PATCH, rollback, routing, `/import`, `/validate`), the console's forms, the admission
webhook and the reconciler/operator — calls `admit(documents, policy)`. It runs the same
checks in the same order for all of them and sorts what they find by the *stage* that
found it; the door's `Policy` only says which stages refuse the write and which merely
mark the object `Invalid`:

- `SCHEMA`: the document is not a valid object (the models, so also the CRD schema:
  names, lengths, durations, enums, unknown fields, broken YAML from the loader).
- `CHECKS`: alertplane's own checks of a valid object (`validate.validate_objects`: field
  rules, PromQL and template isolation, label rules, uniqueness per customer — also
  against the objects already stored (`existing`) —, platform checks), plus the door's
  context checks (`context`: namespace binding where the door knows the bindings).
- `TOOLS`: what only the real promtool/amtool decide (template execution, Prometheus'
  own parser).

The policy, in one sentence: **every door refuses every SCHEMA and CHECKS problem; what
only the tools find never refuses a write — the reconciler runs the tools before anything
goes live and marks the object `Invalid` (its last valid version stays live)**. Dry runs
(`validate`, `render`, `POST /validate`) report all three. So a check added to the models
or to `validate_objects` is refused by every door without touching any of them; the doors
differ only in how they say it (exit 1, 422, a form error, a webhook denial).

The reconciler admits nothing (`RECONCILE`): everything it finds marks the object
`Invalid`. That covers what was admitted but is no longer valid: objects stored before a
check existed, written past the webhook, or broken by a change around them (a namespace
relabelled, a platform setting, a Secret that went missing).

Turning an alert off (`DISABLE`) only needs a schema-valid spec: disabling must work even
when the stored spec no longer passes a newer check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol

from .errors import ObjectRef, Problem
from .importer.autoinject import auto_injected
from .importer.templated import templated
from .manifests import Document
from .model import Resource
from .render.platform import PlatformConfig
from .validate import (
    Parsed,
    check_with_tools,
    flagged_index,
    is_flagged,
    parse_documents,
    validate_objects,
)
from .validate.positions import place
from .validate.unique import Identity, duplicate, identity, key_of, name_path


class Stage(Enum):
    SCHEMA = "schema"
    CHECKS = "checks"
    TOOLS = "tools"


@dataclass(frozen=True)
class Policy:
    name: str
    tools: bool  # run promtool/amtool
    refuse: frozenset[Stage]  # problems of these stages refuse; the others mark Invalid

    def with_tools(self, tools: bool) -> Policy:
        return replace(self, tools=tools)


WRITE = Policy("write", tools=False, refuse=frozenset({Stage.SCHEMA, Stage.CHECKS}))
DISABLE = Policy("disable", tools=False, refuse=frozenset({Stage.SCHEMA}))
DRY_RUN = Policy("dry-run", tools=True, refuse=frozenset(Stage))
RECONCILE = Policy("reconcile", tools=True, refuse=frozenset())


@dataclass(frozen=True)
class Taken:
    """An object already stored, as far as uniqueness needs it: its identity and its
    identity within its customer (validate.unique.identity: an alert's is its alertName
    and severity, so a warning/critical pair may share the name)."""

    ref: ObjectRef
    customer: str
    key: Identity

    @classmethod
    def of(cls, ref: ObjectRef, customer: str, spec: dict[str, Any]) -> Taken | None:
        key = identity(ref.kind, customer, spec)
        return cls(ref, customer, key) if key is not None else None


class StoredObject(Protocol):
    """What `taken` reads of a stored object (model.records.ObjectRecord)."""

    @property
    def ref(self) -> ObjectRef: ...

    @property
    def serial(self) -> int: ...

    @property
    def customer_id(self) -> str: ...

    @property
    def spec(self) -> dict[str, Any]: ...


def taken(stored: Iterable[StoredObject]) -> list[Taken]:
    """The names stored objects hold, oldest first: of two objects with one name, the later
    is the duplicate (as the reconciler decides)."""
    out = []
    for s in sorted(stored, key=lambda s: s.serial):
        found = Taken.of(s.ref, s.customer_id, s.spec)
        if found is not None:
            out.append(found)
    return out


@dataclass
class Admission:
    parsed: list[Parsed]  # the documents that are objects (admitted or not)
    refused: list[Problem]  # these refuse the write
    marked: list[Problem]  # these only mark their object Invalid
    rejected: list[Document] = field(default_factory=list)  # documents that are no object

    @property
    def ok(self) -> bool:
        """Nothing refused: the write may go ahead."""
        return not self.refused

    @property
    def problems(self) -> list[Problem]:
        """Everything found, in input order."""
        return _in_input_order([*self.refused, *self.marked], self.parsed)

    @property
    def admitted(self) -> list[Resource]:
        """The objects no refusing problem names."""
        index = flagged_index(self.refused)
        return [p.obj for p in self.parsed if not is_flagged(p, index)]


Context = Callable[[Parsed], list[Problem]]


def admit(
    documents: Sequence[Document],
    policy: Policy,
    platform: PlatformConfig | None = None,
    existing: Iterable[Taken] = (),
    earlier: Sequence[Problem] = (),
    context: Context | None = None,
) -> Admission:
    """Check `documents` as `policy` says. `existing`: objects already stored that the
    documents must not duplicate (those the documents replace are skipped); `earlier`:
    problems the loader found (broken YAML); `context`: the door's own checks of one
    parsed object (e.g. namespace binding), part of the CHECKS stage."""
    rejected: list[Document] = []
    parsed, schema = parse_documents(documents, rejected)
    parsed = [auto_injected(p) for p in parsed]  # autoInject: true, before any check
    parsed, instantiating = templated(parsed, platform)  # spec.template: likewise
    found: list[tuple[Stage, Problem]] = [(Stage.SCHEMA, p) for p in [*earlier, *schema]]
    checks = instantiating + validate_objects(parsed, platform)
    checks += _duplicates(parsed, existing, checks)
    if context is not None:
        checks += [p.at(item.ref, item.source) for item in parsed for p in context(item)]
    found += [(Stage.CHECKS, p) for p in checks]
    if policy.tools:
        index = flagged_index(checks)
        clean = [p for p in parsed if not is_flagged(p, index)]
        flagged = [p for p in parsed if is_flagged(p, index)]  # promtool's words too
        found += [(Stage.TOOLS, p) for p in check_with_tools(clean, suspects=flagged)]
    # Each problem of a YAML document names where its field is (line:column).
    placed = place([p for _, p in found], documents)
    refused = [p for (stage, _), p in zip(found, placed, strict=True) if stage in policy.refuse]
    marked = [p for (stage, _), p in zip(found, placed, strict=True) if stage not in policy.refuse]
    return Admission(
        parsed, _in_input_order(refused, parsed), _in_input_order(marked, parsed), rejected
    )


def _duplicates(
    parsed: Sequence[Parsed], existing: Iterable[Taken], already: Sequence[Problem]
) -> list[Problem]:
    """Names the documents would take from objects already stored (the later object is
    the duplicate, as `validate.check_unique` words it for objects in one input)."""
    mine = {p.ref for p in parsed}
    taken: dict[Identity, Taken] = {}
    for t in existing:
        if t.ref not in mine:
            taken.setdefault(t.key, t)
    if not taken:
        return []
    index = flagged_index(already)
    problems = []
    for item in parsed:
        key = key_of(item)
        first = taken.get(key)
        if first is None or is_flagged(item, index):
            continue
        problems.append(duplicate(name_path(key[0]), key, first.ref).at(item.ref, item.source))
    return problems


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

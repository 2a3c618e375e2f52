"""What an apply would change, before applying (`alertplane diff`, `POST /diff`).

Per object: added, changed, unchanged, or (with prune) deleted, with a unified diff of its
labels and spec; and in the rendered output: each customer's rule file and the customer's
part of alertmanager.yml, before against after. The same admission as the write
(core.admit, WRITE) decides what would be written: a document it refuses is reported as
a problem, never diffed.

Isolation: only the customers the documents name are rendered, so neither the rule files
nor alertmanager.yml's lines (context lines included) ever show another customer's
objects. Secrets: specs are compared with their clear-text secrets as the write would
store them (references, `normalize`), and shown and rendered redacted.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core import WRITE, admit, evaluate, taken
from ..errors import ObjectRef, Problem, Source
from ..manifests import Document, claimed_customer
from ..model import Resource
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..model.secrets import redact
from ..render import render
from ..render.platform import PlatformConfig
from ..render.yamlout import dump
from ..validate import parse_documents

ADDED, CHANGED, UNCHANGED, DELETED = "added", "changed", "unchanged", "deleted"
REMOVED = "removed"  # an output file that would no longer be written

# The spec a write would store for an object (the store: clear secrets become references).
Normalize = Callable[[Resource], dict[str, Any]]


def as_written(obj: Resource) -> dict[str, Any]:
    """The spec as the cluster keeps it: what the document says, in the model's shape."""
    return dump_spec(obj.spec)


@dataclass(frozen=True)
class ObjectChange:
    ref: ObjectRef
    customer: str
    action: str  # added | changed | unchanged | deleted
    diff: str  # unified diff of {labels, spec}, redacted; "" when unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "customerId": self.customer,
            "action": self.action,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class OutputChange:
    path: str  # rules/<id>.yml or alertmanager.yml
    action: str  # added | changed | removed
    diff: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "diff": self.diff}


@dataclass
class DiffReport:
    objects: list[ObjectChange] = field(default_factory=list)
    outputs: list[OutputChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # these refuse their document
    marked: list[Problem] = field(default_factory=list)  # written, but the object Invalid

    @property
    def changed(self) -> bool:
        return any(o.action != UNCHANGED for o in self.objects) or bool(self.outputs)

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in (ADDED, CHANGED, UNCHANGED, DELETED)}
        for o in self.objects:
            out[o.action] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c[ADDED]} added, {c[CHANGED]} changed, {c[UNCHANGED]} unchanged, "
            f"{c[DELETED]} deleted; {len(self.outputs)} rendered file(s) changed; "
            f"{len(self.problems)} refused, {len(self.marked)} would be Invalid"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "counts": self.counts(),
            "objects": [o.as_dict() for o in self.objects],
            "outputs": [o.as_dict() for o in self.outputs],
        }


def customers_named(documents: Iterable[Document]) -> list[str]:
    """The customers the documents claim (what is fetched, rendered and pruned)."""
    return sorted(
        {
            c
            for d in documents
            if isinstance(d.data, dict) and (c := claimed_customer(d.data)) is not None
        }
    )


def compare(
    current: Sequence[ObjectRecord],
    documents: Sequence[Document],
    platform: PlatformConfig,
    normalize: Normalize = as_written,
    prune: bool = False,
    tools: bool = False,
    earlier: Sequence[Problem] = (),
) -> DiffReport:
    """`current`: the objects the source holds for the documents' customers (and at the
    documents' identities). Pure: no I/O beyond the tools `tools` runs."""
    admission = admit(
        documents, WRITE.with_tools(tools), platform, existing=taken(current), earlier=earlier
    )
    report = DiffReport(problems=admission.refused, marked=admission.marked)
    now = {r.ref: r for r in current}
    wanted: dict[ObjectRef, tuple[str, dict[str, Any]]] = {}
    for obj in admission.admitted:
        ref = ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)
        wanted[ref] = (obj.spec.customer_id, _shown(dict(obj.metadata.labels), normalize(obj)))
    for ref, (customer, after) in wanted.items():
        report.objects.append(_object_change(ref, customer, now.get(ref), after))
    if prune:
        named = set(customers_named(documents))
        claimed = {p.ref for p in admission.parsed}
        for rec in current:
            if rec.customer_id in named and rec.ref not in claimed:
                before = _shown(rec.labels, rec.spec)
                report.objects.append(
                    ObjectChange(rec.ref, rec.customer_id, DELETED, _udiff(before, "", rec.ref))
                )
    # What only the tools find leaves the object Invalid, its last valid version live.
    invalid = {p.obj for p in admission.marked if p.obj is not None}
    live = {ref: w for ref, w in wanted.items() if ref not in invalid}
    report.outputs = _outputs(now, report.objects, live, platform)
    return report


def _shown(labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    """What is compared and shown of an object: its labels and its spec."""
    return {"labels": dict(sorted(labels.items())), "spec": spec}


def _object_change(
    ref: ObjectRef, customer: str, rec: ObjectRecord | None, after: dict[str, Any]
) -> ObjectChange:
    if rec is None:
        return ObjectChange(ref, customer, ADDED, _udiff(None, _text(after), ref))
    before = _shown(rec.labels, rec.spec)
    if before == after and rec.customer_id == customer:
        return ObjectChange(ref, customer, UNCHANGED, "")
    return ObjectChange(ref, customer, CHANGED, _udiff(before, _text(after), ref))


def _text(shown: dict[str, Any]) -> str:
    return dump({"labels": shown["labels"], "spec": redact(shown["spec"])})


def _udiff(before: dict[str, Any] | None, after: str, ref: ObjectRef) -> str:
    old = "" if before is None else _text(before)
    name = f"{ref.kind}/{ref.namespace}/{ref.name}"
    return _lines(old, after, f"{name} (now)", f"{name} (after apply)")


def _lines(old: str, new: str, from_name: str, to_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=from_name,
            tofile=to_name,
        )
    )


def _outputs(
    now: dict[ObjectRef, ObjectRecord],
    changes: Sequence[ObjectChange],
    wanted: dict[ObjectRef, tuple[str, dict[str, Any]]],
    platform: PlatformConfig,
) -> list[OutputChange]:
    """The rendered files of the customers whose objects change (an object given to
    another customer changes both), before and after."""
    touched: set[str] = set()
    for c in changes:
        if c.action != UNCHANGED:
            touched.add(c.customer)
            if (rec := now.get(c.ref)) is not None:
                touched.add(rec.customer_id)
    if not touched:
        return []
    before = _renderable([r for r in now.values() if r.customer_id in touched], platform)
    after = dict(before)
    for change in changes:
        if change.action == DELETED:
            after.pop(change.ref, None)
        elif change.action != UNCHANGED and change.ref in wanted:
            # Admitted (valid without the tools) already: only parsed, redacted.
            customer, shown = wanted[change.ref]
            after.pop(change.ref, None)
            after.update(_parsed([_record(change.ref, customer, shown)]))
    masked = _hidden_platform(platform)
    old = render(before.values(), masked).files()
    new = render(after.values(), masked).files()
    out = []
    for path in sorted(set(old) | set(new)):
        was, will = old.get(path), new.get(path)
        if was == will:
            continue
        action = ADDED if was is None else REMOVED if will is None else CHANGED
        out.append(OutputChange(path, action, _lines(was or "", will or "", path, path)))
    return out


PLATFORM_VALUE = "<platform>"


def _hidden_platform(platform: PlatformConfig) -> PlatformConfig:
    """The platform config to render a diff with: every value of the Alertmanager's
    `global` section and default receiver hidden (SMTP passwords, API URLs, webhook
    tokens are the platform team's; a diff's context lines would show them to a customer
    token). Keys stay, so the rendered files keep their shape and line numbers."""
    am = platform.alertmanager
    hidden = am.model_copy(
        update={"global_": _hide(am.global_), "default_receiver": _hide(am.default_receiver)}
    )
    return platform.model_copy(update={"alertmanager": hidden})


def _hide(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _hide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    return PLATFORM_VALUE


def _record(ref: ObjectRef, customer: str, shown: dict[str, Any]) -> ObjectRecord:
    return ObjectRecord(ref, 0, customer, 1, shown["labels"], shown["spec"])


def _renderable(records: list[ObjectRecord], platform: PlatformConfig) -> dict[ObjectRef, Resource]:
    """The objects that would be rendered: those admission finds valid (without the
    tools), each parsed once from its redacted spec so that no clear secret is ever
    rendered into what is shown."""
    docs = [
        Document(Source("current", n), r.manifest(with_status=False, redacted=False))
        for n, r in enumerate(records, 1)
    ]
    valid = {(o.kind, o.metadata.namespace, o.metadata.name) for o in _valid(docs, platform)}
    return _parsed([r for r in records if (r.kind, r.namespace, r.name) in valid])


def _parsed(records: list[ObjectRecord]) -> dict[ObjectRef, Resource]:
    shown = [
        Document(Source("shown", n), r.manifest(with_status=False))
        for n, r in enumerate(records, 1)
    ]
    parsed, _ = parse_documents(shown)
    return {records[p.source.document - 1].ref: p.obj for p in parsed if p.source is not None}


def _valid(docs: list[Document], platform: PlatformConfig) -> list[Resource]:
    return evaluate(docs, platform, tools=False).valid

"""A sync's first phase, per chunk of customers: load, validate, render.

Customers are independent, so the reconciler loads, validates and renders them in chunks:
the peak memory of a full sync stays that of one chunk, not of every object at once. What
a chunk leaves behind is what the later phases need: each customer's rule file, each
object's assessment, and the live receivers and enabled-rule counts per customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import ObjectRef, Problem, Source
from .manifests import Document
from .model import CustomerReceiver, CustomerReceiverSpec, Resource
from .model.kinds import ALERT, enabled
from .model.records import ObjectRecord
from .render.platform import PlatformConfig
from .render.rules import rules_path
from .sync_assess import assess
from .sync_output import Pass, contained_admission, refused_rules

STORED = "stored"  # the source name of stored objects in admission

# What admission says of stored objects: their problems, and the valid ones parsed.
Checked = tuple[dict[ObjectRef, list[Problem]], dict[ObjectRef, Resource]]
Check = Callable[[list[ObjectRecord]], Checked]
# The last valid version of an object whose newest spec is invalid (sync_assess.live_version;
# the cluster keeps none for an object in a namespace not bound to its customer).
LiveVersion = Callable[[ObjectRecord], Resource | None]


@dataclass
class LiveState:
    """What is live per customer: receivers (to assemble alertmanager.yml without
    re-reading every customer) and the number of enabled rules (for the gauge)."""

    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]] = field(default_factory=dict)
    rule_counts: dict[str, int] = field(default_factory=dict)


def admit_stored(stored: list[ObjectRecord], platform: PlatformConfig) -> Checked:
    """The one admission function (core.admit) with the RECONCILE policy: everything
    it finds, the tools' findings included, marks the object Invalid."""
    docs = [
        Document(Source(STORED, n), st.manifest(with_status=False, redacted=False))
        for n, st in enumerate(stored, 1)
    ]
    admission = contained_admission(docs, platform)
    problems: dict[ObjectRef, list[Problem]] = {}
    for problem in admission.problems:
        n = problem.source.document if problem.source is not None else 0
        if 0 < n <= len(stored):
            problems.setdefault(stored[n - 1].ref, []).append(problem.at(stored[n - 1].ref))
        elif problem.obj is not None:
            problems.setdefault(problem.obj, []).append(problem)
    parsed = {stored[p.source.document - 1].ref: p.obj for p in admission.parsed if p.source}
    return problems, parsed


def run_chunk(
    chunk: list[str],
    stored: Iterable[ObjectRecord],
    check: Check,
    live_version: LiveVersion,
    secret_folder: Callable[[CustomerReceiver], str],
    out: Pass,
    state: LiveState,
) -> None:
    """Validate and render one chunk of customers into `out` and `state`."""
    stored = sorted(stored, key=lambda s: s.serial)
    problems, parsed = check(stored)
    live: dict[str, list[tuple[ObjectRecord, Resource]]] = {cid: [] for cid in chunk}
    for item in stored:
        valid = item.ref not in problems
        obj = parsed.get(item.ref) if valid else live_version(item)
        if obj is not None:
            live.setdefault(obj.spec.customer_id, []).append((item, obj))
    # The rule files as they will be written: an alert promtool refuses in them
    # leaves them (with its last valid version), and nobody else does.
    refused, rule_texts = refused_rules(live)
    rendered: dict[ObjectRef, Resource] = {}
    for cid in live:
        live[cid] = [(st, o) for st, o in live[cid] if st.ref not in refused]
        rendered.update((st.ref, o) for st, o in live[cid])
    for item in stored:
        found = problems.get(item.ref)
        if item.ref in refused:
            found = [*(found or []), *(p.at(item.ref) for p in refused[item.ref])]
        obj = rendered.get(item.ref)
        if isinstance(obj, CustomerReceiver):
            out.receiver_owner[(obj.spec.customer_id, obj.spec.receiver_name)] = len(out.assessed)
        out.assessed.append(assess(item, found, obj))
    for cid in chunk:
        objs = [o for _, o in live[cid]]
        out.files[rules_path(cid)] = rule_texts.get(cid)
        _record(state, cid, objs, secret_folder)


def _record(
    state: LiveState,
    cid: str,
    objs: list[Resource],
    secret_folder: Callable[[CustomerReceiver], str],
) -> None:
    # The gauge counts alerting rules (metrics.RULES); recording rules are not alerts.
    state.rule_counts[cid] = sum(1 for o in objs if o.kind == ALERT.kind and enabled(o))
    state.receivers[cid] = [
        (secret_folder(o), o.spec) for o in objs if isinstance(o, CustomerReceiver)
    ]
    if not objs:
        state.rule_counts.pop(cid)
        state.receivers.pop(cid)

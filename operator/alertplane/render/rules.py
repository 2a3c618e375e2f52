"""Customer rules → one Prometheus rule file per customer (pure).

Every kind that renders into the rules file (model/kinds.py: output "rules") has one entry
in RULE_KINDS: its spec type, the name promtool reports its rules by, and its groups. The
file holds the alert groups first (one per category), then each further kind's groups
(`<id>-records` for recording rules), in the table's order.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import Category, CustomerAlertSpec, CustomerRecordingRuleSpec, CustomerSLOSpec
from .slo import slo_groups
from .yamlout import GENERATED, dump

# The specs of the kinds rendered into the rules file (RULE_KINDS below; keep both in step).
RuleSpec = CustomerAlertSpec | CustomerRecordingRuleSpec | CustomerSLOSpec


def rule_spec(spec: object) -> RuleSpec | None:
    """`spec` when its kind renders into the rules file, else None."""
    return (
        spec
        if isinstance(spec, CustomerAlertSpec | CustomerRecordingRuleSpec | CustomerSLOSpec)
        else None
    )


def rule_of(spec: CustomerAlertSpec) -> dict[str, Any]:
    """The Prometheus alerting rule for one alert: labels and annotations exactly as contracted."""
    rule: dict[str, Any] = {"alert": spec.alert_name, "expr": spec.expr}
    if spec.for_ is not None:
        rule["for"] = spec.for_
    if spec.keep_firing_for is not None:
        rule["keep_firing_for"] = spec.keep_firing_for
    rule["labels"] = spec.rule_labels()
    annotations = spec.annotations.rendered()
    if annotations:
        rule["annotations"] = annotations
    return rule


def recording_rule_of(spec: CustomerRecordingRuleSpec) -> dict[str, Any]:
    """The Prometheus recording rule: its labels force customer_id on every recorded series
    (rule labels overwrite what the expression yields)."""
    return {"record": spec.record, "expr": spec.expr, "labels": spec.rule_labels()}


def group_name(customer_id: str, category: Category) -> str:
    return f"{customer_id}-{category.value}"


def records_group(customer_id: str) -> str:
    return f"{customer_id}-records"


def alert_groups(customer_id: str, specs: Sequence[CustomerAlertSpec]) -> list[dict[str, Any]]:
    """One group per non-empty category, rules ordered by alert name (input order is noise)."""
    # By (name, severity): a warning/critical pair shares the name.
    ordered = sorted(specs, key=lambda s: (s.alert_name, s.severity.value))
    groups = []
    for category in Category:
        rules = [rule_of(s) for s in ordered if s.category == category]
        if rules:
            groups.append({"name": group_name(customer_id, category), "rules": rules})
    return groups


def record_groups(
    customer_id: str, specs: Sequence[CustomerRecordingRuleSpec]
) -> list[dict[str, Any]]:
    """One group of every recording rule, each after the rules whose series it reads.
    Prometheus evaluates a group's rules in order, and a rule reads what the rules before it
    recorded in the same evaluation (upstream mixins chain them: Mimir's required replicas
    read its actual replicas); otherwise by record and labels, so the file is stable."""
    if not specs:
        return []
    rules = [recording_rule_of(s) for s in _dependency_order(specs)]
    return [{"name": records_group(customer_id), "rules": rules}]


_METRIC_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _dependency_order(specs: Sequence[CustomerRecordingRuleSpec]) -> list[Any]:
    """Record-and-labels order, moved so that no rule comes before a rule whose record its
    expression names (a name inside a string or a label only moves it needlessly; rules in
    a cycle keep their plain order at the end). Linear in the rules and the names their
    expressions hold: a customer's long chain of records cannot slow a sync down."""
    order = sorted(specs, key=lambda s: (s.record, sorted(s.labels.items())))
    records = {s.record for s in order}
    left = Counter(s.record for s in order)  # rules of each record not yet placed
    readers: dict[str, list[int]] = {}
    waiting = []  # per rule: the records it reads that are not yet placed
    for i, spec in enumerate(order):
        reads = records.intersection(_METRIC_TOKEN.findall(spec.expr)) - {spec.record}
        for record in reads:
            readers.setdefault(record, []).append(i)
        waiting.append(len(reads))
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    placed: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        placed.append(i)
        record = order[i].record
        left[record] -= 1
        if left[record] == 0:
            for j in readers.get(record, ()):
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready, j)
    done = set(placed)
    return [order[i] for i in placed] + [s for i, s in enumerate(order) if i not in done]


@dataclass(frozen=True)
class RuleKind:
    """How one kind renders into the rules file."""

    kind: str
    spec: type[Any]
    rule_key: str  # the rule's field naming it: `alert` or `record`
    name: Callable[[Any], str]  # the name promtool reports the rule by
    groups: Callable[[str, Sequence[Any]], list[dict[str, Any]]]
    owns_group: Callable[[str, str], bool]  # whether group `name` of customer `id` is its


RULE_KINDS: tuple[RuleKind, ...] = (
    RuleKind(
        "CustomerAlert",
        CustomerAlertSpec,
        "alert",
        lambda s: s.alert_name,
        alert_groups,
        lambda cid, name: name in {group_name(cid, c) for c in Category},
    ),
    RuleKind(
        "CustomerRecordingRule",
        CustomerRecordingRuleSpec,
        "record",
        lambda s: s.record,
        record_groups,
        lambda cid, name: name == records_group(cid),
    ),
    # One group per SLO (render/slo.py); promtool names its rules by record and alert
    # names several SLOs share, so a refusal is pinned by checking each SLO alone.
    RuleKind(
        "CustomerSLO",
        CustomerSLOSpec,
        "slo",
        lambda s: s.alerting.page_alert_name,
        slo_groups,
        lambda cid, name: name.startswith(f"{cid}-slo-"),
    ),
)


def rule_kind(spec: Any) -> RuleKind:
    for entry in RULE_KINDS:
        if isinstance(spec, entry.spec):
            return entry
    raise TypeError(f"{type(spec).__name__} does not render into a rules file")


def rule_name(spec: Any) -> str:
    """The name promtool reports the spec's rule by (alertName, record)."""
    return rule_kind(spec).name(spec)


def rule_groups(customer_id: str, specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Every kind's groups of the customer's enabled specs, in the table's order."""
    enabled = [s for s in specs if getattr(s, "enabled", True) and s.customer_id == customer_id]
    groups: list[dict[str, Any]] = []
    for entry in RULE_KINDS:
        groups += entry.groups(customer_id, [s for s in enabled if isinstance(s, entry.spec)])
    return groups


def render_rules(customer_id: str, specs: Iterable[Any]) -> str | None:
    """The rule file text, or None when the customer has no enabled rule (no file)."""
    groups = rule_groups(customer_id, specs)
    if not groups:
        return None
    header = f"{GENERATED}# customer: {customer_id}\n"
    return dump({"groups": groups}, header)


def rules_path(customer_id: str) -> str:
    return f"rules/{customer_id}.yml"

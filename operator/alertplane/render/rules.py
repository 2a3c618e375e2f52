"""Customer alerts → one Prometheus rule file per customer (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model import Category, CustomerAlertSpec
from .yamlout import GENERATED, dump


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


def group_name(customer_id: str, category: Category) -> str:
    return f"{customer_id}-{category.value}"


def rule_groups(customer_id: str, specs: Iterable[CustomerAlertSpec]) -> list[dict[str, Any]]:
    """One group per non-empty category, rules ordered by alert name (input order is noise)."""
    enabled = sorted(
        (s for s in specs if s.enabled and s.customer_id == customer_id),
        key=lambda s: (s.alert_name, s.severity.value),  # a pair shares the name
    )
    groups = []
    for category in Category:
        rules = [rule_of(s) for s in enabled if s.category == category]
        if rules:
            groups.append({"name": group_name(customer_id, category), "rules": rules})
    return groups


def render_rules(customer_id: str, specs: Iterable[CustomerAlertSpec]) -> str | None:
    """The rule file text, or None when the customer has no enabled alert (no file)."""
    groups = rule_groups(customer_id, specs)
    if not groups:
        return None
    header = f"{GENERATED}# customer: {customer_id}\n"
    return dump({"groups": groups}, header)


def rules_path(customer_id: str) -> str:
    return f"rules/{customer_id}.yml"

"""Alerting rules → CustomerAlert manifests: the customer each rule belongs to, severity and
category mapped, the tenant matcher injected on the parse tree (inject.py), reserved labels
turned into fields, object names derived safely (naming.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model.alert import Category, Severity, Urgency
from ..model.common import is_dns_label
from .inject import Refused, inject
from .naming import Names
from .sources import Rule, Where

API_VERSION = "alertplane.io/v1alpha1"
# Severities seen in upstream rule sets (kube-prometheus, awesome-prometheus-alerts, the
# mixins) → alertplane's three. A value not listed is refused with a hint to map it.
DEFAULT_SEVERITY_MAP: dict[str, Severity] = {
    **{v: Severity.critical for v in ("critical", "page", "error", "high", "major", "emergency")},
    **{v: Severity.warning for v in ("warning", "warn", "medium", "minor")},
    **{v: Severity.info for v in ("info", "none", "low", "notice", "informational")},
}
ANNOTATION_KEYS = {"runbook_url": "runbookUrl"}


@dataclass(frozen=True)
class Options:
    customer: str | None = None  # every rule belongs to it
    customer_label: str | None = None  # or: the rule's label (or `namespace`: its namespace)
    customer_map: dict[str, str] = field(default_factory=dict)  # label value → customer id
    category: Category = Category.application
    severity_map: dict[str, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    default_severity: Severity = Severity.warning


@dataclass(frozen=True)
class Converted:
    where: Where
    customer: str
    manifest: dict[str, Any]


def customer_of(rule: Rule, options: Options) -> str:
    """The customer id a rule is imported for; Refused when there is none."""
    if options.customer is not None:
        return options.customer
    key = options.customer_label or ""
    labels = rule.data.get("labels") or {}
    value = labels.get(key)
    if value is None and key == "namespace":
        value = rule.namespace
    if value is None:
        raise Refused(f"no {key!r} label to take the customer from; use --customer")
    value = str(value)
    cid = options.customer_map.get(value, value)
    if not is_dns_label(cid):
        raise Refused(
            f"{key} {value!r} is not a customer id; map it with --customer-map {value}=<id>"
        )
    return cid


def convert(rule: Rule, options: Options, names: Names) -> Converted:
    """One alerting rule as a CustomerAlert manifest; Refused (with the reason) otherwise."""
    cid = customer_of(rule, options)
    data = rule.data
    labels = {k: str(v) for k, v in (data.get("labels") or {}).items()}
    severity = _severity(labels.pop("severity", None), options)
    category = _enum(Category, labels.pop("category", None), options.category, "category")
    urgency = labels.pop("urgency", None)
    found = labels.pop("customer_id", None)
    if found is not None and found != cid:
        raise Refused(f"its label customer_id={found!r} names another customer than {cid!r}")
    if options.customer_label and options.customer_label != "namespace":
        labels.pop(options.customer_label, None)  # now customer_id, set by alertplane
    expr = inject(str(data["expr"]).strip("\n"), cid)
    spec: dict[str, Any] = {
        "customerId": cid,
        "alertName": data["alert"],
        "category": category.value,
        "severity": severity.value,
    }
    if urgency is not None:
        spec["urgency"] = _enum(Urgency, urgency, None, "urgency").value
    spec["expr"] = expr + "\n" if "\n" in expr else expr
    for key, out in (("for", "for"), ("keep_firing_for", "keepFiringFor")):
        if data.get(key) not in (None, "0s", "0"):
            spec[out] = data[key]
    if labels:
        spec["labels"] = dict(sorted(labels.items()))
    annotations = {
        ANNOTATION_KEYS.get(k, k): str(v) for k, v in (data.get("annotations") or {}).items()
    }
    if annotations:
        spec["annotations"] = annotations
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "CustomerAlert",
        "metadata": {"name": names.take(cid, data["alert"], severity.value), "namespace": cid},
        "spec": spec,
    }
    return Converted(rule.where, cid, manifest)


def _severity(value: Any, options: Options) -> Severity:
    if value is None:
        return options.default_severity
    mapped = options.severity_map.get(str(value).lower())
    if mapped is None:
        known = ", ".join(sorted(options.severity_map))
        raise Refused(
            f"severity {str(value)!r} has no mapping (known: {known}); "
            f"add --severity-map {value}=critical|warning|info"
        )
    return mapped


def _enum(kind: Any, value: Any, default: Any, what: str) -> Any:
    if value is None:
        return default
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise Refused(f"its {what} label {str(value)!r} is not one of {allowed}") from None


def parse_severity_map(text: str) -> dict[str, Severity]:
    """`error=critical,none=info` → entries added to the default map (ValueError on junk)."""
    out = dict(DEFAULT_SEVERITY_MAP)
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or value not in Severity.__members__:
            raise ValueError(f"{part!r}: expected VALUE=critical|warning|info, e.g. error=critical")
        out[key.strip().lower()] = Severity(value)
    return out

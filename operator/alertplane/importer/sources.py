"""What an input document is, and its rule groups: a Prometheus rule file (`groups:`), a
`PrometheusRule` object, a Mimir/Cortex ruler namespace (`mimirtool rules` files:
`namespace:` + `groups:`, or the ruler's `/config/v1/rules` export: namespace → groups),
or an `alertmanager.yml` (handled by receivers.py).

Documents come from manifests.load_text, which already refuses YAML aliases, deep nesting
and oversized inputs; here every field is type-checked before it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

RULE_FILE, PROMETHEUS_RULE, RULER, ALERTMANAGER = (
    "rule file",
    "PrometheusRule",
    "ruler namespace",
    "alertmanager.yml",
)
# Group keys Prometheus (and Mimir) know; alertplane renders one group per customer, so
# these are reported as not carried over rather than silently dropped.
GROUP_KEYS_DROPPED = (
    "interval",
    "limit",
    "query_offset",
    "source_tenants",
    "evaluation_delay",
    "align_evaluation_time_on_interval",
)


@dataclass(frozen=True)
class Where:
    """Where an item came from, for messages: `file[doc] group 'g' rule 3 (alert X)`."""

    source: str
    group: str = ""
    index: int | None = None
    name: str = ""

    def __str__(self) -> str:
        out = self.source
        if self.group:
            out += f" group {self.group!r}"
        if self.index is not None:
            out += f" rule {self.index + 1}"
        if self.name:
            out += f" ({self.name})"
        return out


@dataclass(frozen=True)
class Rule:
    where: Where
    namespace: str | None  # the PrometheusRule's or ruler namespace, for --customer-label
    data: dict[str, Any]


@dataclass
class Groups:
    kind: str
    # Rules to convert and refusals, in input order (answers list refusals in that order).
    entries: list[Rule | tuple[Where, str]] = field(default_factory=list)
    notes: list[tuple[Where, str]] = field(default_factory=list)  # not carried over


class NotRules(ValueError):
    """The document is none of the known formats; str = what was expected."""


def kind_of(data: Any) -> str:
    if not isinstance(data, dict):
        raise NotRules(f"expected a mapping, got {_type(data)}")
    if data.get("kind") == "PrometheusRule":
        return PROMETHEUS_RULE
    if "groups" in data:
        return RULER if "namespace" in data else RULE_FILE
    if "route" in data or "receivers" in data:
        return ALERTMANAGER
    if data and all(isinstance(v, list) for v in data.values()):
        return RULER
    raise NotRules(
        "not a rule file: expected `groups:` (Prometheus rule file or mimirtool namespace), "
        "a PrometheusRule, a ruler export (namespace: [groups]) or an alertmanager.yml"
    )


def groups_of(data: Any, source: str) -> Groups:
    kind = kind_of(data)
    out = Groups(kind)
    if kind == PROMETHEUS_RULE:
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else "?"
        ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        _groups(spec.get("groups"), f"{source} PrometheusRule {name}", ns, out)
    elif kind == RULE_FILE:
        _groups(data["groups"], source, None, out)
    elif "groups" in data:
        ns = data["namespace"] if isinstance(data["namespace"], str) else None
        _groups(data["groups"], source, ns, out)
    elif kind == RULER:
        for ns, groups in data.items():
            _groups(groups, f"{source} namespace {ns}", str(ns), out)
    return out


def _groups(groups: Any, source: str, namespace: str | None, out: Groups) -> None:
    if not isinstance(groups, list):
        out.entries.append((Where(source), f"groups must be a list, got {_type(groups)}"))
        return
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("name"), str):
            out.entries.append((Where(source), "every group must be a mapping with a name"))
            continue
        where = Where(source, g["name"])
        for key in GROUP_KEYS_DROPPED:
            if key in g:
                out.notes.append((where, f"group {key}: {g[key]!r} is not carried over"))
        rules = g.get("rules")
        if not isinstance(rules, list):
            out.entries.append((where, f"rules must be a list, got {_type(rules)}"))
            continue
        for index, rule in enumerate(rules):
            out.entries.extend(_rule(rule, Where(source, g["name"], index), namespace, out))


def _rule(rule: Any, where: Where, namespace: str | None, out: Groups) -> Iterator[Rule]:
    if not isinstance(rule, dict):
        out.entries.append((where, f"a rule must be a mapping, got {_type(rule)}"))
        return
    name = rule.get("alert", rule.get("record"))
    where = Where(where.source, where.group, where.index, name if isinstance(name, str) else "")
    problem = _shape(rule)
    if problem:
        out.entries.append((where, problem))
        return
    yield Rule(where, namespace, rule)


def _shape(rule: dict[str, Any]) -> str:
    recording = "record" in rule
    if recording and (not isinstance(rule["record"], str) or not rule["record"]):
        return "record must be a metric name, e.g. job:http_requests:rate5m"
    if not recording and (not isinstance(rule.get("alert"), str) or not rule["alert"]):
        return "a rule needs `alert:` (a name) or `record:`"
    expr = rule.get("expr")
    if isinstance(expr, bool) or not isinstance(expr, str | int | float):
        return f"expr must be PromQL text, got {_type(expr)}"
    for key in ("labels", "annotations"):
        value = rule.get(key, {})
        if value is None:
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            return f"{key} must map names to text"
    for key in ("for", "keep_firing_for"):
        if key in rule and not isinstance(rule[key], str):
            return f"{key} must be a duration such as 5m, got {_type(rule[key])}"
    known = (
        {"record", "expr", "labels"}
        if recording
        else {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
    )
    unknown = sorted(set(rule) - known)
    if unknown:
        return f"unknown rule keys: {', '.join(map(str, unknown))}"
    return ""


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )

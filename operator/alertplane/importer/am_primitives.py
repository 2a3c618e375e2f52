"""alertmanager.yml's time intervals and inhibit rules → a customer's receivers (pure).

- A route's `mute_time_intervals` / `active_time_intervals` (Alertmanager does not pass
  them on to child routes, so each flattened route has only its own) become the
  receiver's route names, and the intervals they name are copied into that receiver's
  `spec.timeIntervals` (names made DNS labels; the periods by camelCase keys).
- An inhibit rule is the customer's when both of its sides match `customer_id="<id>"`
  exactly (or, with --customer, always): it is carried to the customer's first receiver
  without that matcher (alertplane adds it back, with customer_id in `equal`). Any other
  rule spans customers, which alertplane cannot express: noted, never widened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .naming import kebab

Matchers = Callable[[dict[str, Any]], tuple[list[tuple[str, str, str]], list[str]]]
_PERIOD_KEYS = {
    "weekdays": "weekdays",
    "days_of_month": "daysOfMonth",
    "months": "months",
    "years": "years",
    "location": "location",
}
ANY = ("alertname", "!=", "")
ROUTE_KEYS = {
    "mute_time_intervals": "muteTimeIntervals",
    "active_time_intervals": "activeTimeIntervals",
}


def defined_intervals(data: dict[str, Any]) -> dict[str, Any]:
    """Every named interval of the file (`time_intervals` and the older
    `mute_time_intervals`), by its Alertmanager name."""
    out: dict[str, Any] = {}
    for key in ("mute_time_intervals", "time_intervals"):
        for item in data.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                out[item["name"]] = item.get("time_intervals") or []
    return out


def route_intervals(
    route: dict[str, Any], defined: dict[str, Any], where: str, notes: list[tuple[str, str]]
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """(route fields naming intervals, the intervals they name) of one route."""
    names: dict[str, list[str]] = {}
    intervals: dict[str, dict[str, Any]] = {}
    for key, field in ROUTE_KEYS.items():
        for name in route.get(key) or []:
            if name not in defined:
                notes.append((where, f"{key} {name!r} is not defined: not carried over"))
                continue
            short = kebab(str(name))[:63].strip("-") or "interval"
            names.setdefault(field, []).append(short)
            periods = [_period(p, where, notes) for p in defined[name] if isinstance(p, dict)]
            intervals[short] = {"name": short, "timeIntervals": periods or [{}]}
    return names, list(intervals.values())


def _period(period: dict[str, Any], where: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in period.items():
        if key == "times" and isinstance(value, list):
            out["times"] = [
                {"startTime": str(t.get("start_time")), "endTime": str(t.get("end_time"))}
                for t in value
                if isinstance(t, dict)
            ]
        elif key in _PERIOD_KEYS:
            out[_PERIOD_KEYS[key]] = str(value) if key == "location" else [str(v) for v in value]
        else:
            notes.append((where, f"time interval field {key} not carried over"))
    return out


def customer_inhibits(
    data: dict[str, Any], source: str, original: str | None, label: str, matchers: Matchers
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """(the customer's inhibit rules, notes about the others). `original` is the
    customer's label value in the file; None: the whole file is the customer's."""
    rules: list[dict[str, Any]] = []
    notes: list[tuple[str, str]] = []
    for i, rule in enumerate(data.get("inhibit_rules") or []):
        if not isinstance(rule, dict):
            continue
        where = f"{source} inhibit_rules[{i}]"
        sides, problems = _sides(rule, matchers)
        notes += [(where, p) for p in problems]
        own = (label, "=", original)
        if original is not None and not all(own in side for side in sides):
            continue  # another customer's, or spanning customers: noted once by the caller
        if original is None and any(m[0] == label for side in sides for m in side):
            # --customer: the file's customer_id values mean nothing here; dropping the
            # matcher could widen the rule.
            notes.append((where, f"not carried over: it matches on {label}"))
            continue
        # A side that matched only the customer matches every alert of it: alertname!=""
        # says the same (every alert has a name), as alertplane wants one matcher a side.
        source_m, target_m = ([m for m in side if m[0] != label] or [ANY] for side in sides)
        equal = [str(e) for e in rule.get("equal") or [] if e != label]
        rules.append(
            {
                "sourceMatch": [_matcher(m) for m in source_m],
                "targetMatch": [_matcher(m) for m in target_m],
                "equal": equal,
            }
        )
    return rules, notes


def _sides(
    rule: dict[str, Any], matchers: Matchers
) -> tuple[list[list[tuple[str, str, str]]], list[str]]:
    """The source and target matchers of a rule, in any of Alertmanager's spellings."""
    sides, problems = [], []
    for side in ("source", "target"):
        found, more = matchers(
            {
                "matchers": rule.get(f"{side}_matchers"),
                "match": rule.get(f"{side}_match"),
                "match_re": rule.get(f"{side}_match_re"),
            }
        )
        sides.append(found)
        problems += more
    return sides, problems


def _matcher(m: tuple[str, str, str]) -> dict[str, str]:
    name, op, value = m
    return {"name": name, "value": value, "matchType": op}


def unscoped(data: dict[str, Any], label: str, matchers: Matchers) -> list[int]:
    """Indexes of inhibit rules that are no single customer's (both sides `label=...`,
    the same value): alertplane cannot express them."""
    out = []
    for i, rule in enumerate(data.get("inhibit_rules") or []):
        if not isinstance(rule, dict):
            continue
        sides, _ = _sides(rule, matchers)
        values = [{v for n, op, v in side if n == label and op == "="} for side in sides]
        if len(values[0]) != 1 or values[0] != values[1]:
            out.append(i)
    return out

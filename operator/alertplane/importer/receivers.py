"""alertmanager.yml → CustomerReceivers.

The customer's part of the routing tree is the subtree under a route matching
`customer_id="<id>"` (every such route, for each customer, found by `--customer-label`,
default customer_id), or the whole tree with `--customer`. Its routes are flattened into
alertplane's ordered route list: children before their parent (priority 10, 20, ...), each
child's matchers joined with its ancestors', timers inherited as Alertmanager inherits them,
the subtree's own receiver last as the catch-all. What alertplane cannot express (regex and
negative matchers outside severity/category lists, inhibit rules spanning customers, other
integrations, credentials files) is reported per item, never dropped silently. A route's
time intervals and the customer's own inhibit rules are carried (importer/am_primitives.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..model.alert import Category, Severity
from ..model.common import is_dns_label
from .alerts import API_VERSION, Options
from .am_primitives import customer_inhibits, defined_intervals, route_intervals, unscoped
from .naming import Names, kebab
from .result import Item, Output, Result

TENANT = "customer_id"
_TIMERS = {
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
}
_MATCHER = re.compile(
    r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:\\.|[^"\\])*)"|(.*?))\s*$'
)
_ALTERNATION = re.compile(r"^[a-z]+(\|[a-z]+)*$")
_CHANNELS = {
    "email_configs": "email",
    "slack_configs": "slack",
    "pagerduty_configs": "pagerduty",
    "webhook_configs": "webhook",
}
_FIELDS = {
    "email": {
        "to": "to",
        "send_resolved": "sendResolved",
        "html": "htmlTemplate",
        "text": "textTemplate",
    },
    "slack": {
        "api_url": "apiURL",
        "channel": "channel",
        "title": "titleTemplate",
        "text": "textTemplate",
        "send_resolved": "sendResolved",
    },
    "pagerduty": {
        "routing_key": "routingKey",
        "severity": "severity",
        "description": "description",
        "send_resolved": "sendResolved",
    },
    "webhook": {"url": "url", "send_resolved": "sendResolved"},
}


@dataclass
class _Flat:
    """One route of the customer's subtree, with what it inherited."""

    receiver: str
    matchers: list[tuple[str, str, str]]
    settings: dict[str, Any]
    cont: bool
    where: str
    names: dict[str, list[str]] = field(default_factory=dict)  # mute/active interval names
    intervals: list[dict[str, Any]] = field(default_factory=list)  # the intervals they name


@dataclass
class _Walk:
    customer: str
    source: str
    original: str | None = None  # the customer's label value in the file (--customer: None)
    defined: dict[str, Any] = field(default_factory=dict)  # the file's named time intervals
    flat: list[_Flat] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def receivers_of(
    data: dict[str, Any], source: str, options: Options, names: Names, result: Result
) -> None:
    if data.get("templates"):
        result.notes.append(Item(f"{source} templates", "not carried over: alertplane has none"))
    label = options.customer_label or TENANT
    if options.customer is None:
        result.notes.extend(
            Item(f"{source} inhibit_rules[{i}]", "not carried over: not limited to one customer "
                 f'(alertplane carries a rule whose both sides match {label}="<id>")')
            for i in unscoped(data, label, _matchers)
        )  # fmt: skip
    root = data.get("route")
    if not isinstance(root, dict):
        result.refused.append(Item(source, "alertmanager.yml without a route"))
        return
    receivers = {r.get("name"): r for r in data.get("receivers") or [] if isinstance(r, dict)}
    for walk in _subtrees(root, source, options, result, defined_intervals(data)):
        used: dict[str, int] = {}
        rules, notes = customer_inhibits(data, source, walk.original, label, _matchers)
        walk.notes.extend(notes)
        for priority, flat in enumerate(walk.flat, start=1):
            made = _receiver(flat, receivers.get(flat.receiver), walk, priority * 10, used, names)
            if made is not None:
                if rules:  # the customer's rules, on its first receiver
                    made["spec"]["inhibitRules"], rules = rules, []
                result.outputs.append(Output(walk.customer, "receivers", made))
        if rules:
            walk.notes.append(
                (f"{source} inhibit_rules", f"no receiver of {walk.customer} to carry them")
            )
        # A receiver used by several routes is noted once.
        result.notes.extend(Item(w, r) for w, r in dict.fromkeys(walk.notes))
        result.refused.extend(Item(w, r) for w, r in walk.refused)


def _subtrees(
    root: dict[str, Any], source: str, options: Options, result: Result, defined: dict[str, Any]
) -> list[_Walk]:
    if options.customer is not None:
        walk = _Walk(options.customer, source, defined=defined)
        _flatten(root, [], {}, f"{source} route", walk)
        return [walk]
    label = options.customer_label or TENANT
    found: list[_Walk] = []

    def visit(route: dict[str, Any], where: str) -> None:
        matchers, problems = _matchers(route)
        own = [m for m in matchers if m[0] == label and m[1] == "="]
        if own:
            cid = options.customer_map.get(own[0][2], own[0][2])
            if not is_dns_label(cid):
                result.refused.append(Item(where, f"{label} {own[0][2]!r} is not a customer id"))
                return
            walk = _Walk(cid, source, original=own[0][2], defined=defined)
            rest = [m for m in matchers if m is not own[0]]
            _flatten({**route, "matchers": [], "match": {}, "match_re": {}}, rest, {}, where, walk)
            walk.notes.extend((where, p) for p in problems)
            found.append(walk)
            return
        for i, child in enumerate(route.get("routes") or []):
            if isinstance(child, dict):
                visit(child, f"{where}.routes[{i}]")

    visit(root, f"{source} route")
    if not found:
        result.refused.append(Item(source, f'no route matches {label}="<id>"; use --customer ID'))
    return found


def _flatten(
    route: dict[str, Any],
    above: list[tuple[str, str, str]],
    settings: dict[str, Any],
    where: str,
    walk: _Walk,
) -> None:
    matchers, problems = _matchers(route)
    walk.notes.extend((where, p) for p in problems)
    mine = above + matchers
    inherited = {**settings, **{k: route[k] for k in _TIMERS if k in route}}
    # Alertmanager does not pass these on to child routes: each route has its own.
    interval_names, intervals = route_intervals(route, walk.defined, where, walk.notes)
    children = [c for c in route.get("routes") or [] if isinstance(c, dict)]
    cont = bool(route.get("continue", False))
    if cont and any(not c.get("continue", False) for c in children):
        walk.notes.append(
            (
                where,
                "continue: true on a route whose children stop: flattened, "
                "a matching child now also stops the routes after this one",
            )
        )
    for i, child in enumerate(children):
        _flatten(child, mine, inherited, f"{where}.routes[{i}]", walk)
    if isinstance(route.get("receiver"), str):
        flat = _Flat(route["receiver"], mine, inherited, cont, where, interval_names, intervals)
        walk.flat.append(flat)


def _matchers(route: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[str]]:
    out: list[tuple[str, str, str]] = []
    problems: list[str] = []
    for name, value in (route.get("match") or {}).items():
        out.append((str(name), "=", str(value)))
    for name, value in (route.get("match_re") or {}).items():
        out.append((str(name), "=~", str(value)))
    for text in route.get("matchers") or []:
        m = _MATCHER.match(str(text))
        if m is None:
            problems.append(f"matcher {text!r} not understood")
            continue
        value = m.group(3) if m.group(3) is not None else m.group(4)
        out.append(
            (
                m.group(1),
                m.group(2),
                _unescaped(value) if m.group(3) else value,
            )
        )
    return out, problems


def _unescaped(quoted: str) -> str:
    """A quoted matcher value's escapes resolved, other characters kept: unicode_escape
    reads bytes as Latin-1, so characters beyond it go in as escapes of their own (plain
    `.encode()` would turn `café` into `cafÃ©`, a route matching nothing)."""
    return quoted.encode("latin-1", "backslashreplace").decode("unicode_escape")


class _Inexpressible(ValueError):
    pass


def _route(flat: _Flat, priority: int) -> dict[str, Any]:
    match: dict[str, Any] = {}
    for name, op, value in flat.matchers:
        if name in ("severity", "category") and op in ("=", "=~") and _ALTERNATION.match(value):
            kind = Severity if name == "severity" else Category
            values = [v for v in value.split("|") if v in kind.__members__]
            if len(values) == len(value.split("|")):
                match[name] = values
                continue
        if op == "=" and name not in ("severity", "category", TENANT):
            match.setdefault("labels", {})[name] = value
            continue
        # Dropping it would widen the route (it would catch alerts it never saw): refused.
        raise _Inexpressible(
            f"matcher {name}{op}{json.dumps(value)} cannot be expressed (alertplane routes "
            "match labels exactly, severity/category by list); route and receiver not imported"
        )
    route: dict[str, Any] = {"priority": priority}
    if match:
        route["match"] = match
    if flat.cont:
        route["continue"] = True
    for key, out in _TIMERS.items():
        if key in flat.settings:
            route[out] = flat.settings[key]
    route.update(flat.names)
    return route


def _receiver(
    flat: _Flat, spec: Any, walk: _Walk, priority: int, used: dict[str, int], names: Names
) -> dict[str, Any] | None:
    if not isinstance(spec, dict):
        walk.notes.append((flat.where, f"receiver {flat.receiver!r} is not defined: route skipped"))
        return None
    try:
        route = _route(flat, priority)
    except _Inexpressible as exc:
        walk.refused.append((flat.where, str(exc)))
        return None
    # `acme-team` under acme's route is `team`: the rendered name gets the prefix again.
    short = flat.receiver.removeprefix(f"{walk.customer}-").removeprefix(f"{walk.customer}_")
    base = kebab(short)[:50].strip("-") or "receiver"
    used[base] = used.get(base, 0) + 1
    rname = base if used[base] == 1 else f"{base}-{used[base]}"
    where = f"{walk.source} receiver {flat.receiver!r}"
    body: dict[str, Any] = {"customerId": walk.customer, "receiverName": rname}
    for key, value in spec.items():
        if key == "name":
            continue
        kind = _CHANNELS.get(key)
        if kind is None or not isinstance(value, list):
            walk.notes.append(
                (where, f"{key} not carried over: alertplane has no such integration")
            )
            continue
        body[kind] = [c for c in (_channel(kind, v, where, walk.notes) for v in value) if c]
    body["route"] = route
    if flat.intervals:
        body["timeIntervals"] = flat.intervals
    return {
        "apiVersion": API_VERSION,
        "kind": "CustomerReceiver",
        "metadata": {
            "name": names.take(walk.customer, rname, "receiver"),
            "namespace": walk.customer,
        },
        "spec": body,
    }


def _channel(kind: str, config: Any, where: str, notes: list[tuple[str, str]]) -> dict[str, Any]:
    if not isinstance(config, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        field_name = _FIELDS[kind].get(key)
        if kind == "email" and key == "headers" and isinstance(value, dict) and "Subject" in value:
            out["subjectTemplate"] = value["Subject"]
            rest = sorted(set(value) - {"Subject"})
            if rest:
                notes.append((where, f"email headers {', '.join(rest)} not carried over"))
        elif field_name is None:
            notes.append(
                (where, f"{kind} {key} not carried over: set by the platform or not supported")
            )
        elif kind == "email" and key == "to":
            out["to"] = [a.strip() for a in str(value).split(",") if a.strip()]
        else:
            out[field_name] = value
    return out

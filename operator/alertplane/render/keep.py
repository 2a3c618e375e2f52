"""Carry customers' parts of the previous alertmanager.yml into a new one (pure).

A customer with an invalid receiver keeps its last good Alertmanager output (DESIGN:
nothing invalid reaches Alertmanager, and a customer whose config is invalid keeps its
last good output); rendering only its valid receivers would silently stop notifications
that worked a minute ago. A customer's part is what render/alertmanager.py gives it:
the top-level route that matches `customer_id="<id>"` alone, the receivers named
`<id>/…`, and any inhibit rule whose matchers name `customer_id="<id>"`. Every other
customer's part, and the platform's settings, come from the new rendering.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .alertmanager import TENANT_LABEL, matcher
from .yamlout import GENERATED, dump


@dataclass(frozen=True)
class Merged:
    text: str  # the alertmanager.yml to write
    kept: list[str] = field(default_factory=list)  # customers whose previous part was kept
    # Why the previous file could not be used (nothing kept), else None.
    unusable: str | None = None
    # Per kept customer, the receivers left out because the input no longer holds them.
    dropped: dict[str, list[str]] = field(default_factory=dict)


def keep_customer_parts(
    previous: str | None,
    rendered: str,
    customers: Collection[str] | None,
    present: Mapping[str, Collection[str]] | None = None,
) -> Merged:
    """The new config with `customers`' parts taken from `previous`.

    `customers` None means some input could not be read, so anyone's receivers may be in
    it: then every customer that had receivers and would have none is kept, so no
    customer goes silent because of a broken file. A customer `previous` holds no part
    for is left as rendered; an unparseable or foreign `previous` keeps nothing.
    """
    if previous is None or (customers is not None and not customers):
        return Merged(rendered)
    old, problem = _parse(previous)
    if old is None:
        return Merged(rendered, unusable=problem)
    new, problem = _parse(rendered)
    if new is None:  # the renderer's own output: a bug, never the user's input
        raise ValueError(f"rendered alertmanager.yml: {problem}")
    old_parts, new_parts = _parts(old), _parts(new)
    if customers is None:
        wanted = [c for c, p in old_parts.items() if p.receivers and not _has(new_parts, c)]
    else:
        wanted = [c for c in customers if c in old_parts]
    kept = sorted(set(wanted))
    if not kept:
        return Merged(rendered)
    dropped: dict[str, list[str]] = {}
    for cid in kept:
        new_parts[cid] = old_parts[cid]
        if present is not None and cid in present:
            new_parts[cid], gone = _without_absent(cid, old_parts[cid], present[cid])
            if gone:
                dropped[cid] = gone
    return Merged(_assemble(new, new_parts), kept, dropped=dropped)


def _without_absent(cid: str, part: _Part, present: Collection[str]) -> tuple[_Part, list[str]]:
    """A kept part without the receivers the input no longer holds (deleting takes
    effect whatever else the input says), nor the routes to them."""
    names = {f"{cid}/{n}" for n in present}
    gone = sorted(r["name"].partition("/")[2] for r in part.receivers if r["name"] not in names)
    if not gone:
        return part, []
    route = part.route
    if route is not None and isinstance(route.get("routes"), list):
        routes = [r for r in route["routes"] if not _to_absent(r, cid, names)]
        route = (
            {**route, "routes": routes}
            if routes
            else {k: v for k, v in route.items() if k != "routes"}
        )
    receivers = [r for r in part.receivers if r["name"] in names]
    return _Part(route, receivers, part.inhibit_rules), gone


def _to_absent(route: object, cid: str, names: set[str]) -> bool:
    receiver = route.get("receiver") if isinstance(route, dict) else None
    return isinstance(receiver, str) and receiver.startswith(f"{cid}/") and receiver not in names


@dataclass
class _Part:
    route: dict[str, Any] | None = None
    receivers: list[dict[str, Any]] = field(default_factory=list)
    inhibit_rules: list[dict[str, Any]] = field(default_factory=list)


def _has(parts: dict[str, _Part], cid: str) -> bool:
    return cid in parts and bool(parts[cid].receivers)


def _parse(text: str) -> tuple[dict[str, Any] | None, str]:
    # The header is how alertplane recognises its own files (as for rule files): a
    # hand-written config's routes would not follow the shape relied on below.
    if not text.startswith(GENERATED):
        return None, "it is not alertplane's (no generated header)"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        return None, f"it cannot be parsed{at}"
    if not isinstance(data, dict):
        return None, "it is not a mapping"
    route, receivers = data.get("route"), data.get("receivers")
    if not isinstance(route, dict) or not isinstance(route.get("routes", []), list):
        return None, "its route is not alertplane's (no list of customer routes)"
    if not isinstance(receivers, list) or not all(_named(r) for r in receivers):
        return None, "its receivers are not a list of named receivers"
    if not isinstance(data.get("inhibit_rules", []), list):
        return None, "its inhibit_rules are not a list"
    return data, ""


def _named(receiver: object) -> bool:
    return isinstance(receiver, dict) and isinstance(receiver.get("name"), str)


def _route_owner(route: object) -> str | None:
    """The customer a top-level route is for: it matches customer_id="<id>" alone."""
    if not isinstance(route, dict):
        return None
    matchers = route.get("matchers")
    if not isinstance(matchers, list) or len(matchers) != 1 or not isinstance(matchers[0], str):
        return None
    prefix = f'{TENANT_LABEL}="'
    text = matchers[0]
    if not (text.startswith(prefix) and text.endswith('"')):
        return None
    cid = text[len(prefix) : -1]
    # Only an id the renderer writes back identically (customer ids are DNS labels).
    return cid if matcher(TENANT_LABEL, cid) == text else None


def _rule_owner(rule: object) -> str | None:
    if not isinstance(rule, dict):
        return None
    for key in ("source_matchers", "target_matchers"):
        for item in rule.get(key) or []:
            owner = _route_owner({"matchers": [item]})
            if owner is not None:
                return owner
    return None


def _parts(config: dict[str, Any]) -> dict[str, _Part]:
    parts: dict[str, _Part] = {}
    for route in config["route"].get("routes") or []:
        cid = _route_owner(route)
        if cid is not None:
            parts.setdefault(cid, _Part()).route = route
    for receiver in config["receivers"]:
        cid, slash, _ = receiver["name"].partition("/")
        if slash:
            parts.setdefault(cid, _Part()).receivers.append(receiver)
    for rule in config.get("inhibit_rules") or []:
        cid = _rule_owner(rule)
        if cid is not None:
            parts.setdefault(cid, _Part()).inhibit_rules.append(rule)
    return parts


def _assemble(config: dict[str, Any], parts: dict[str, _Part]) -> str:
    """`config` with its customer parts replaced by `parts`, in render order: customers
    sorted by id, platform entries (the default receiver) first as rendered."""
    order = sorted(parts)
    out = dict(config)
    route = dict(config["route"])
    route["routes"] = [
        *(r for r in route.get("routes") or [] if _route_owner(r) is None),
        *(parts[c].route for c in order if parts[c].route is not None),
    ]
    out["route"] = route
    out["receivers"] = [
        *(r for r in config["receivers"] if "/" not in r["name"]),
        *(r for c in order for r in parts[c].receivers),
    ]
    rules = [r for r in config.get("inhibit_rules") or [] if _rule_owner(r) is None]
    rules += [r for c in order for r in parts[c].inhibit_rules]
    if rules:
        out["inhibit_rules"] = rules
    return dump(out, GENERATED)

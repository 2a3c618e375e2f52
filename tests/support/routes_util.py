"""Routing helpers for the isolation tests (DESIGN "Isolation", rule 3).

Three independent answers to "which receivers does this label set reach?":

- `reference_route`: a small re-implementation of Alertmanager 0.25's router over the
  rendered YAML tree (`labels.ParseMatchers` for `matchers`, legacy `match`/`match_re`,
  receiver inheritance, `continue`), written from Alertmanager's source, not from
  alertplane's renderer;
- `intended_route`: what the CustomerReceiver contract promises, straight from the specs
  (routes tried in (priority, receiverName) order, `continue` keeps going, nothing
  matched → platform-default, unknown customer → platform-default);
- `amtool_routes`: the real `amtool config routes test`, one process per label set, run
  in a small thread pool.

The isolation tests hold all three to each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertplane.model import CustomerReceiverSpec
from alertplane.validate import tools

PLATFORM = "platform-default"
TENANT = "customer_id"
Labels = Mapping[str, str]

# Alertmanager pkg/labels/parse.go: `^\s*(name)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$` (Go's \s
# is ASCII whitespace, and Go's `$` without (?m) is the end of the text).
_WS = "[ \t\n\f\r]"
_MATCHER = re.compile(
    rf"^{_WS}*([a-zA-Z_:][a-zA-Z0-9_:]*){_WS}*(=~|=|!=|!~){_WS}*(.*?){_WS}*\Z", re.DOTALL
)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Labels) -> bool:
        actual = labels.get(self.name, "")  # a missing label is the empty string
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # Alertmanager anchors: ^(?:value)$ (Go RE2, no flags).
        found = re.fullmatch(f"(?:{self.value})", actual) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    """labels.ParseMatcher of Alertmanager 0.25."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"bad matcher format: {text!r}")
    name, op, raw = found.groups()
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            if ch == "n":
                value.append("\n")
            elif ch in '"\\':
                value.append(ch)
            else:  # a spurious escape keeps its backslash
                value.append("\\" + ch)
            continue
        if ch == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            value.append("\\")
        elif ch == '"':
            if not quoted or i < len(raw) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {text!r}")
            quoted = False
        else:
            value.append(ch)
    if quoted:
        raise ValueError(f"matcher value lacks a closing quote: {text!r}")
    return Matcher(name, op, "".join(value))


def parse_matchers(text: str) -> list[Matcher]:
    """labels.ParseMatchers of Alertmanager 0.25 (one `matchers:` list item)."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for ch in text:
        if ch == ",":
            if not inside:
                tokens.append("".join(token))
                token = []
                continue
        elif ch == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_matcher(t) for t in tokens]


@dataclass
class Route:
    receiver: str
    matchers: list[Matcher] = field(default_factory=list)
    continue_: bool = False
    routes: list[Route] = field(default_factory=list)

    def match(self, labels: Labels) -> list[Route]:
        """dispatch.Route.Match: the deepest matching routes, in tree order."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_:
                break
        return found or [self]

    def walk(self) -> Iterable[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


def route_tree(config: Mapping[str, Any]) -> Route:
    """The routing tree of a loaded alertmanager.yml (the `route` section)."""
    return _route(config["route"], None)


def _route(node: Mapping[str, Any], parent: str | None) -> Route:
    receiver = node.get("receiver", parent)
    if not isinstance(receiver, str):
        raise ValueError(f"route without a receiver: {node!r}")
    matchers = [Matcher(k, "=", str(v)) for k, v in (node.get("match") or {}).items()]
    matchers += [Matcher(k, "=~", str(v)) for k, v in (node.get("match_re") or {}).items()]
    for item in node.get("matchers") or []:
        matchers += parse_matchers(item)
    return Route(
        receiver=receiver,
        matchers=matchers,
        continue_=bool(node.get("continue", False)),
        routes=[_route(child, receiver) for child in node.get("routes") or []],
    )


def reference_route(tree: Route, labels: Labels) -> list[str]:
    return [r.receiver for r in tree.match(labels)]


def intended_route(
    customers: Mapping[str, Sequence[CustomerReceiverSpec]], labels: Labels
) -> list[str]:
    """The receivers the CustomerReceiver contract promises for `labels`."""
    cid = labels.get(TENANT, "")
    if cid not in customers:
        return [PLATFORM]
    out = []
    for spec in sorted(customers[cid], key=lambda s: (s.route.priority, s.receiver_name)):
        match = spec.route.match
        if (
            (not match.severity or labels.get("severity", "") in match.severity)
            and (not match.category or labels.get("category", "") in match.category)
            and all(labels.get(k, "") == v for k, v in match.labels.items())
        ):
            out.append(f"{cid}/{spec.receiver_name}")
            if not spec.route.continue_:
                break
    return out or [PLATFORM]


def amtool_routes(config: Path, label_sets: Sequence[Labels], workers: int = 3) -> list[list[str]]:
    """`amtool config routes test` for each label set (one process each, in parallel)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda labels: tools.routes_test(config, labels), label_sets))


def structure_problems(config: Mapping[str, Any], customers: Iterable[str]) -> list[str]:
    """DESIGN rule 3 on the tree itself: what is wrong with the rendered routing shape."""
    problems = []
    route = config["route"]
    if route.get("receiver") != PLATFORM:
        problems.append(f"root receiver is {route.get('receiver')!r}")
    if route.get("matchers") or route.get("match") or route.get("match_re"):
        problems.append("root route has matchers")
    names = [r["name"] for r in config["receivers"]]
    if len(names) != len(set(names)):
        problems.append(f"duplicate receiver names: {names}")
    seen = []
    for child in route.get("routes") or []:
        tree = _route(child, PLATFORM)
        tenant = [m for m in tree.matchers if m.name == TENANT]
        if len(tree.matchers) != 1 or len(tenant) != 1 or tenant[0].op != "=":
            problems.append(f"customer route does not match on customer_id alone: {child}")
            continue
        cid = tenant[0].value
        seen.append(cid)
        if child.get("continue", False) is not False:
            problems.append(f"customer route {cid} continues")
        if tree.receiver != PLATFORM:
            problems.append(f"customer route {cid} falls back to {tree.receiver!r}")
        for node in tree.walk():
            if node is not tree and not node.receiver.startswith(f"{cid}/"):
                problems.append(f"customer route {cid} reaches {node.receiver!r}")
            if node is not tree and any(m.name == TENANT for m in node.matchers):
                problems.append(f"a route below customer {cid} matches customer_id")
    if sorted(seen) != sorted(set(customers)):
        problems.append(f"customer routes {seen} for customers {sorted(set(customers))}")
    return problems

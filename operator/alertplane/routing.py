"""Which receivers a label set reaches in an Alertmanager configuration (pure).

A small re-implementation of Alertmanager's router (`dispatch.Route.Match`), enough to
answer "where would this alert go?" from a rendered `alertmanager.yml` without running
amtool. Tests hold it to `amtool config routes test` on random configurations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class RouteConfigError(ValueError):
    """The configuration is not one Alertmanager would load (a bug if it was rendered)."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        # Alertmanager treats a missing label as the empty string.
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(f"(?:{self.value})", actual, re.DOTALL) is not None
        return found if self.op == "=~" else not found


def parse_matcher(text: str) -> Matcher:
    found = _MATCHER.match(text)
    if found is None:
        raise RouteConfigError(f"bad matcher {text!r}")
    name, op, raw = found.groups()
    return Matcher(name, op, _unquote(raw) if raw.startswith('"') else raw)


def _unquote(raw: str) -> str:
    if len(raw) < 2 or not raw.endswith('"'):
        raise RouteConfigError(f"unterminated quoted value {raw!r}")
    out, chars, i = [], raw[1:-1], 0
    while i < len(chars):
        ch = chars[i]
        if ch == "\\" and i + 1 < len(chars):
            out.append(_ESCAPES.get(chars[i + 1], "\\" + chars[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = field(default=())

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert ends at, in order (`dispatch.Route.Match`)."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]


def route_tree(config: Mapping[str, Any]) -> Route:
    root = config.get("route")
    if not isinstance(root, Mapping) or not isinstance(root.get("receiver"), str):
        raise RouteConfigError("the configuration has no route with a receiver")
    return _route(root, str(root["receiver"]), is_root=True)


def _route(node: Mapping[str, Any], parent_receiver: str, is_root: bool = False) -> Route:
    receiver = node.get("receiver", parent_receiver)
    matchers: list[Matcher] = []
    for text in node.get("matchers") or []:
        matchers.append(parse_matcher(str(text)))
    for name, value in (node.get("match") or {}).items():
        matchers.append(Matcher(str(name), "=", str(value)))
    for name, value in (node.get("match_re") or {}).items():
        matchers.append(Matcher(str(name), "=~", str(value)))
    children = tuple(_route(child, str(receiver)) for child in node.get("routes") or [])
    return Route(
        str(receiver),
        () if is_root else tuple(matchers),  # the root matches every alert
        bool(node.get("continue", False)),
        children,
    )


def receivers_for(config_text: str, labels: Mapping[str, str]) -> list[str]:
    """Receiver names an alert with `labels` is sent to, in order and with repeats,
    exactly as `amtool config routes test` prints them."""
    config = yaml.safe_load(config_text)
    if not isinstance(config, Mapping):
        raise RouteConfigError("the configuration is not a mapping")
    return [route.receiver for route in route_tree(config).match(labels)]

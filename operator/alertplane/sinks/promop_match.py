"""What prometheus-operator generated, compared with what the sink wrote (pure).

prometheus-operator v0.85.0 turns each selected PrometheusRule into one file of a rule
ConfigMap (`prometheus-<name>-rulefiles-<n>`, key `<ns>-<rule name>-<uid>.yaml`: the spec
marshalled again, pkg/operator/rules.go), and merges the AlertmanagerConfigs into the
Secret `alertmanager-<name>-generated` (`alertmanager.yaml.gz`, pkg/alertmanager): each
AlertmanagerConfig's top route becomes a first-level route with `continue: true` forced,
receivers (and time intervals) renamed `<ns>/<AlertmanagerConfig name>/<name>`, matchers
in Alertmanager's text form (`customer_id="acme"`). These helpers answer "is what we wrote
what it generated?" on the parsed shapes, so a difference of spelling (key order, quoting,
empty fields it drops) is never a difference, and a difference of content always is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

Matcher = tuple[str, str, str]  # (label, operator, value)

try:  # libyaml: a full pass over 1,000 customers parses 1,000 rule files.
    LOADER: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    LOADER = yaml.SafeLoader

_MATCHER = re.compile(r'^\s*([^\s=!~"]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$')
# An AlertmanagerConfig route's fields → the generated route's (amcfg.go `convertRoute`).
_ROUTE_FIELDS = {
    "groupBy": "group_by",
    "groupWait": "group_wait",
    "groupInterval": "group_interval",
    "repeatInterval": "repeat_interval",
}
_INTERVALS = {
    "muteTimeIntervals": "mute_time_intervals",
    "activeTimeIntervals": "active_time_intervals",
}
# Receiver integrations: the CRD's field → Alertmanager's (amcfg.go `convertReceiver`).
_CHANNELS = {
    "emailConfigs": "email_configs",
    "slackConfigs": "slack_configs",
    "pagerdutyConfigs": "pagerduty_configs",
    "webhookConfigs": "webhook_configs",
    "opsgenieConfigs": "opsgenie_configs",
    "victoropsConfigs": "victorops_configs",
    "pushoverConfigs": "pushover_configs",
    "wechatConfigs": "wechat_configs",
    "telegramConfigs": "telegram_configs",
    "snsConfigs": "sns_configs",
    "webexConfigs": "webex_configs",
    "discordConfigs": "discord_configs",
    "msteamsConfigs": "msteams_configs",
    "msteamsv2Configs": "msteamsv2_configs",
    "rocketchatConfigs": "rocketchat_configs",
}


# -- rules ------------------------------------------------------------------------------
def _pruned(value: Any) -> Any:
    """`value` without the empty fields Go's marshalling drops (`omitempty`), with rule
    expressions as text (the CRD's `expr` is an int-or-string)."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            item = _pruned(item)
            if item in (None, "", [], {}):
                continue
            out[str(key)] = str(item) if key == "expr" else item
        return out
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def rule_file(generated: str) -> Any:
    """A file of a rule ConfigMap in the form `rule_spec` gives; None when it does not read."""
    try:
        return _pruned(yaml.load(generated, Loader=LOADER))
    except yaml.YAMLError:
        return None


def rule_spec(spec: Mapping[str, Any]) -> Any:
    """The PrometheusRule `spec` we wrote as prometheus-operator writes it into the file:
    for Prometheus it drops `partial_response_strategy` (Thanos' field)."""
    ours = _pruned(spec)
    for group in ours.get("groups", []):
        group.pop("partial_response_strategy", None)
    return ours


def rule_file_matches(generated: str, spec: Mapping[str, Any]) -> bool:
    """Whether a file of a rule ConfigMap holds exactly the PrometheusRule `spec` we wrote."""
    parsed = rule_file(generated)
    return parsed is not None and bool(parsed == rule_spec(spec))


def rule_file_key(namespace: str, name: str, uid: str) -> str:
    """The rule ConfigMap key of a PrometheusRule (pkg/operator/rules.go `Select`)."""
    return f"{namespace}-{name}-{uid}.yaml"


# -- Alertmanager -----------------------------------------------------------------------
def parse_matcher(text: str) -> Matcher | None:
    """`label="value"` (the form prometheus-operator writes; the value may be unquoted in
    hand-written configs) as a tuple; None when it is not a matcher."""
    found = _MATCHER.match(text)
    if found is None:
        return None
    name, op, value = found.groups()
    if value.startswith('"'):
        try:
            value = json.loads(value)  # Go's strconv.Quote is a subset of JSON's quoting
        except json.JSONDecodeError:
            return None
        if not isinstance(value, str):
            return None
    return name, op, value


def _generated_matchers(route: Mapping[str, Any]) -> list[Matcher] | None:
    """A generated route's matchers, its `match`/`match_re` maps included (prometheus-
    operator writes those for Alertmanager < 0.22); None when one does not parse."""
    out: list[Matcher] = []
    for text in route.get("matchers") or []:
        parsed = parse_matcher(str(text))
        if parsed is None:
            return None
        out.append(parsed)
    out += [(str(k), "=", str(v)) for k, v in (route.get("match") or {}).items()]
    out += [(str(k), "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    return sorted(out)


def _crd_matchers(route: Mapping[str, Any]) -> list[Matcher]:
    out = []
    for m in route.get("matchers") or []:
        op = m.get("matchType") or ("=~" if m.get("regex") else "=")
        out.append((str(m["name"]), str(op), str(m.get("value", ""))))
    return sorted(out)


def expected_route(route: Mapping[str, Any], prefix: str, top: bool = True) -> dict[str, Any]:
    """The generated form of an AlertmanagerConfig `route` (normalized as `normal_route`
    leaves a generated one): names under `prefix` (`<ns>/<name>/`), continue forced on top."""
    out: dict[str, Any] = {
        "receiver": prefix + route["receiver"] if route.get("receiver") else "",
        "matchers": _crd_matchers(route),
        "continue": True if top else bool(route.get("continue", False)),
    }
    for crd, generated in _ROUTE_FIELDS.items():
        if route.get(crd):
            out[generated] = route[crd]
    for crd, generated in _INTERVALS.items():
        if route.get(crd):
            out[generated] = [prefix + name for name in route[crd]]
    out["routes"] = [
        expected_route(child, prefix, top=False) for child in route.get("routes") or []
    ]
    return out


def normal_route(route: Mapping[str, Any]) -> dict[str, Any] | None:
    """A route of the generated configuration in the shape `expected_route` gives."""
    matchers = _generated_matchers(route)
    if matchers is None:
        return None
    out: dict[str, Any] = {
        "receiver": str(route.get("receiver") or ""),
        "matchers": matchers,
        "continue": bool(route.get("continue", False)),
    }
    for generated in (*_ROUTE_FIELDS.values(), *_INTERVALS.values()):
        if route.get(generated):
            out[generated] = route[generated]
    children = [normal_route(child) for child in route.get("routes") or []]
    if any(child is None for child in children):
        return None
    out["routes"] = children
    return out


def _integrations(receiver: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, int]:
    """How many configurations of each integration a receiver has (`names` maps the
    field to the generated name; the generated form maps to itself)."""
    return {
        names[key]: len(value)
        for key, value in receiver.items()
        if key in names and isinstance(value, list) and value
    }


@dataclass(frozen=True)
class GeneratedRoutes:
    """A generated Alertmanager configuration, indexed once per pass: its first-level
    routes (normalized) by the `<ns>/<name>/` prefix of their receiver, and the
    integrations of each receiver. Customers are then looked up, not searched for."""

    routes: dict[str, list[dict[str, Any] | None]]
    receivers: dict[str, dict[str, int]]

    @classmethod
    def of(cls, generated: Mapping[str, Any]) -> GeneratedRoutes:
        routes: dict[str, list[dict[str, Any] | None]] = {}
        for route in (generated.get("route") or {}).get("routes") or []:
            if isinstance(route, Mapping):
                prefix = str(route.get("receiver") or "").rpartition("/")[0] + "/"
                routes.setdefault(prefix, []).append(normal_route(route))
        same = {v: v for v in _CHANNELS.values()}
        receivers = {
            str(r.get("name")): _integrations(r, same)
            for r in generated.get("receivers") or []
            if isinstance(r, Mapping)
        }
        return cls(routes, receivers)


def customer_part_matches(
    generated: GeneratedRoutes, spec: Mapping[str, Any], prefix: str
) -> str | None:
    """Whether the generated Alertmanager configuration holds the AlertmanagerConfig `spec`
    written under `prefix` (`<ns>/<name>/`): a first-level route equal to its route, and
    every receiver it defines with the same integrations. None when it does; else what is
    missing or different, in a few words (for the Pending message)."""
    ours = generated.routes.get(prefix, [])
    if expected_route(spec.get("route") or {}, prefix) not in ours:
        return "its route differs" if ours else "no route"
    for receiver in spec.get("receivers") or []:
        name = prefix + str(receiver["name"])
        if name not in generated.receivers:
            return f"no receiver {name}"
        if generated.receivers[name] != _integrations(receiver, _CHANNELS):
            return f"receiver {name} differs"
    return None

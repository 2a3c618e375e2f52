"""Customer receivers → one Alertmanager configuration with a subtree per customer (pure).

Isolation lives here: the root routes on customer_id first, each customer's subtree has
`continue: false` and references only receivers named `<customerId>/…`, and anything
without a known customer_id ends at `platform-default`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..model import CustomerReceiverSpec, Route
from .am_primitives import TENANT_LABEL as TENANT_LABEL
from .am_primitives import Matcher as Matcher
from .am_primitives import (
    interval_name,
    scoped_inhibit,
    time_interval_of,
)
from .platform import PlatformConfig
from .yamlout import GENERATED, dump

PLATFORM_RECEIVER = "platform-default"


def receiver_name(customer_id: str, receiver: str) -> str:
    return f"{customer_id}/{receiver}"


def matcher(name: str, value: str, op: str = "=") -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}{op}"{escaped}"'


def _any_of(name: str, values: list[str]) -> list[Matcher]:
    if not values:
        return []
    if len(values) == 1:
        return [(name, "=", values[0])]
    # Alertmanager anchors regex matchers, so "a|b" matches exactly a or b.
    return [(name, "=~", "|".join(sorted(set(values))))]


def route_matchers(route: Route) -> list[Matcher]:
    """A receiver route's matchers as data: Alertmanager's text form (`route_of`) and the
    AlertmanagerConfig translation (render/promop.py) are both written from these."""
    matchers = _any_of("severity", [s.value for s in route.match.severity])
    matchers += _any_of("category", [c.value for c in route.match.category])
    matchers += [(k, "=", v) for k, v in sorted(route.match.labels.items())]
    return matchers


def route_options(route: Route) -> dict[str, Any]:
    """The route's grouping and timing settings that are set, by Alertmanager's names."""
    out: dict[str, Any] = {}
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    for key, value in (
        ("group_wait", route.group_wait),
        ("group_interval", route.group_interval),
        ("repeat_interval", route.repeat_interval),
    ):
        if value is not None:
            out[key] = value
    return out


def route_of(spec: CustomerReceiverSpec) -> dict[str, Any]:
    route: Route = spec.route
    out: dict[str, Any] = {"receiver": receiver_name(spec.customer_id, spec.receiver_name)}
    matchers = [matcher(name, value, op) for name, op, value in route_matchers(route)]
    if matchers:
        out["matchers"] = matchers
    out.update(route_options(route))
    for key, names in (
        ("mute_time_intervals", route.mute_time_intervals),
        ("active_time_intervals", route.active_time_intervals),
    ):
        if names:
            out[key] = [interval_name(spec.customer_id, spec.receiver_name, n) for n in names]
    out["continue"] = route.continue_
    return out


def ordered_routes(
    customer_id: str, receivers: Iterable[CustomerReceiverSpec]
) -> list[CustomerReceiverSpec]:
    """The customer's receivers in the order their routes are tried."""
    ordered = sorted(receivers, key=lambda r: (r.route.priority, r.receiver_name))
    return [r for r in ordered if r.customer_id == customer_id]


def customer_route(customer_id: str, receivers: Iterable[CustomerReceiverSpec]) -> dict[str, Any]:
    subtree: dict[str, Any] = {
        "receiver": PLATFORM_RECEIVER,
        "matchers": [matcher(TENANT_LABEL, customer_id)],
        "continue": False,
    }
    routes = [route_of(r) for r in ordered_routes(customer_id, receivers)]
    if routes:
        subtree["routes"] = routes
    return subtree


def receiver_of(
    spec: CustomerReceiverSpec, namespace: str, platform: PlatformConfig
) -> dict[str, Any]:
    """The Alertmanager receiver; secrets become *_file paths so they never enter the config."""
    out: dict[str, Any] = {"name": receiver_name(spec.customer_id, spec.receiver_name)}
    emails = []
    for e in spec.email:
        cfg: dict[str, Any] = {"to": ", ".join(e.to)}
        if e.subject_template is not None:
            cfg["headers"] = {"Subject": e.subject_template}
        _put(cfg, "html", e.html_template)
        _put(cfg, "text", e.text_template)
        _put(cfg, "send_resolved", e.send_resolved)
        emails.append(cfg)
    slacks = []
    for s in spec.slack:
        cfg = {}
        if s.api_url_secret_ref is not None:
            ref = s.api_url_secret_ref
            cfg["api_url_file"] = platform.secret_path(namespace, ref.name, ref.key)
        else:
            _put(cfg, "api_url", s.api_url)
        _put(cfg, "channel", s.channel)
        _put(cfg, "title", s.title_template)
        _put(cfg, "text", s.text_template)
        _put(cfg, "send_resolved", s.send_resolved)
        slacks.append(cfg)
    pagerduties = []
    for p in spec.pagerduty:
        cfg = {}
        if p.routing_key_secret_ref is not None:
            ref = p.routing_key_secret_ref
            cfg["routing_key_file"] = platform.secret_path(namespace, ref.name, ref.key)
        else:
            _put(cfg, "routing_key", p.routing_key)
        _put(cfg, "severity", p.severity)
        _put(cfg, "description", p.description)
        _put(cfg, "send_resolved", p.send_resolved)
        pagerduties.append(cfg)
    webhooks = []
    for w in spec.webhook:
        cfg = {"url": w.url}
        _put(cfg, "send_resolved", w.send_resolved)
        webhooks.append(cfg)
    for key, items in (
        ("email_configs", emails),
        ("slack_configs", slacks),
        ("pagerduty_configs", pagerduties),
        ("webhook_configs", webhooks),
    ):
        if items:
            out[key] = items
    return out


def _put(cfg: dict[str, Any], key: str, value: object) -> None:
    if value is not None:
        cfg[key] = value


def render_alertmanager(
    customers: Mapping[str, list[tuple[str, CustomerReceiverSpec]]],
    platform: PlatformConfig,
) -> str:
    """The whole alertmanager.yml.

    `customers` maps every known customer id to its receivers as (secret folder, spec: the
    receiver's namespace in the cluster, its customer id standalone, sync.py); a
    customer with no receivers still gets its subtree so its alerts never fall through
    to another customer.
    """
    settings = platform.alertmanager
    root: dict[str, Any] = {"receiver": PLATFORM_RECEIVER}
    defaults = settings.route.model_dump(exclude_none=True)
    root.update(defaults)
    root["routes"] = [
        customer_route(cid, [spec for _, spec in customers[cid]]) for cid in sorted(customers)
    ]
    receivers: list[dict[str, Any]] = [{"name": PLATFORM_RECEIVER, **settings.default_receiver}]
    for cid in sorted(customers):
        for namespace, spec in sorted(customers[cid], key=lambda item: item[1].receiver_name):
            receivers.append(receiver_of(spec, namespace, platform))
    config: dict[str, Any] = {}
    if settings.global_:
        config["global"] = settings.global_
    config["route"] = root
    config["receivers"] = receivers
    config.update(primitives_of(customers))
    return dump(config, GENERATED)


def primitives_of(
    customers: Mapping[str, list[tuple[str, CustomerReceiverSpec]]],
) -> dict[str, Any]:
    """`inhibit_rules` and `time_intervals` of every customer, scoped (render/am_primitives.py),
    in (customer, receiver) order so the text is stable."""
    inhibits: list[dict[str, Any]] = []
    intervals: list[dict[str, Any]] = []
    for cid in sorted(customers):
        for _, spec in sorted(customers[cid], key=lambda item: item[1].receiver_name):
            for rule in spec.inhibit_rules:
                source, target, equal = scoped_inhibit(cid, rule)
                inhibits.append(
                    {
                        "source_matchers": [matcher(n, v, op) for n, op, v in source],
                        "target_matchers": [matcher(n, v, op) for n, op, v in target],
                        "equal": equal,
                    }
                )
            intervals += [time_interval_of(cid, spec.receiver_name, t) for t in spec.time_intervals]
    out: dict[str, Any] = {}
    if inhibits:
        out["inhibit_rules"] = inhibits
    if intervals:
        out["time_intervals"] = intervals
    return out

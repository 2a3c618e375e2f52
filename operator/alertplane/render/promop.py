"""prometheus-operator objects from the core's output (pure): one PrometheusRule and one
AlertmanagerConfig spec per customer, and the keys of the customer's Secret.

Both are translations of the core's output, never a second renderer: the PrometheusRule
spec is the customer's rendered rule file (the text promtool checked), and the
AlertmanagerConfig is the customer's route subtree and receivers as render/alertmanager.py
builds them, in the CRD's shape. Matchers are written from their data
(`route_matchers`), never parsed back from Alertmanager's text form.

Isolation with prometheus-operator: the AlertmanagerConfig's top route matches
`customer_id="<id>"`; the Alertmanager resource must use
`alertmanagerConfigMatcherStrategy: {type: None}` (otherwise prometheus-operator adds a
`namespace="<sink namespace>"` matcher no customer alert carries) and select
`alertplane.io/alertmanager: "true"`; Prometheus selects `alertplane.io/rules: "true"`.
Secrets: AlertmanagerConfig can only reference Secrets in its own namespace, so the keys a
customer's receivers reference (and clear-text apiURL/routingKey values) are copied into
one Secret `alertplane-<customerId>` in the sink namespace, referenced by key.

Base configuration: prometheus-operator makes each customer's top route a first-level
child of the base route with `continue: true` forced, before the base's own routes, and
renames receivers `<namespace>/<object>/<receiver>`. The base is alertplane's global
AlertmanagerConfig `alertplane.platform` (`platform_config`): a root route to
`platform-default` with the platform's route settings and NO child routes, so a customer
alert that falls through reaches nothing more, and an alert of no known customer ends at
`platform-default`. The dot keeps the name out of every customer's `alertplane-<id>`.
The customer's top route carries the same settings (its routes inherit them, as under
file mode's root), and every e-mail config carries the platform's SMTP settings
(`alertmanager.global`): an AlertmanagerConfig has no global section of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import Problem
from ..model import CustomerReceiverSpec
from ..model.am_primitives import TimePeriod
from ..model.common import MAX_NAME
from .alertmanager import (
    PLATFORM_RECEIVER,
    TENANT_LABEL,
    Matcher,
    ordered_routes,
    receiver_of,
    route_matchers,
    route_options,
)
from .am_primitives import scoped_inhibit
from .platform import PlatformConfig
from .promop_channels import (
    CHANNELS,
    KEY_VALUE,
    PLAIN,
    SECRET,
    SMTP_PLAIN,
    SMTP_SECRET,
    check_platform,
)
from .secretfiles import secret_ref_of

BASE_NAME = "alertplane.platform"  # not a DNS label: never `alertplane-<customerId>`
FALLBACK_RECEIVER = "platform_default"  # not a DNS label: never a customer's receiver name
REF = "@"  # secret paths are rendered as @/<namespace>/<secret>/<key> and turned into refs
# Keys of clear values in a Secret start with "_"; the platform's with "_.", which no
# receiver's "_<name>" (a DNS label) can spell, so a customer can never take their key.
PLATFORM_KEYS = "_.platform-default"
SMTP_KEYS = "_.smtp"
_ROUTE_SETTINGS = {
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
}


# A copied Secret key (readable, or a digest) → the reference it copies, or a clear value.
SecretKeys = dict[str, tuple[str, str, str] | str]


def object_name(customer_id: str) -> str:
    return f"alertplane-{customer_id}"


def prometheus_rule_spec(rule_file: str) -> dict[str, Any]:
    """The PrometheusRule spec of a customer: its rule file, as promtool checked it. Read
    from the text (not rendered again) so the object is exactly the checked file, and the
    reconciler carries one form of each customer's rules, not two."""
    spec: dict[str, Any] = yaml.safe_load(rule_file)
    return spec


def secrets_platform(platform: PlatformConfig) -> PlatformConfig:
    """`platform` rendering secret paths under REF, as `alertmanager_config` expects.
    Refused (UsageError naming each key) when this sink cannot write its settings: the
    one place the prometheus-operator sink takes its platform config, at start."""
    check_platform(platform)
    return platform.model_copy(update={"secrets_dir": REF})


def route_settings(platform: PlatformConfig) -> dict[str, Any]:
    """The platform's route settings (`alertmanager.route`) by the CRD's names."""
    defaults = platform.alertmanager.route.model_dump(exclude_none=True)
    return {_ROUTE_SETTINGS[key]: value for key, value in defaults.items()}


# -- the base configuration ---------------------------------------------------------
def platform_config(platform: PlatformConfig) -> tuple[dict[str, Any], SecretKeys]:
    """The spec of the global AlertmanagerConfig `alertplane.platform`, and the keys of
    its Secret (of the same name). `platform` passed `check_platform`."""
    secrets: SecretKeys = {}
    route = {"receiver": PLATFORM_RECEIVER, **route_settings(platform)}
    receiver = _receiver(
        dict(platform.alertmanager.default_receiver),
        PLATFORM_RECEIVER,
        BASE_NAME,
        secrets,
        PLATFORM_KEYS,
        platform,
    )
    return {"route": route, "receivers": [receiver]}, secrets


# -- translation of the core's rendered Alertmanager pieces -----------------------------
def alertmanager_config(
    customer_id: str, receivers: list[tuple[str, CustomerReceiverSpec]], platform: PlatformConfig
) -> tuple[dict[str, Any], SecretKeys]:
    """The AlertmanagerConfig spec of one customer, and the keys of its Secret.

    `platform` must render secret paths under REF (`secrets_platform`). Secret keys map to
    the referenced (namespace, Secret, key) or to a clear-text value given in the spec.
    """
    secrets: SecretKeys = {}
    owner = object_name(customer_id)
    specs = [spec for _, spec in receivers]
    # prometheus-operator forces continue: true up here, so the top route sets none.
    route: dict[str, Any] = {
        "receiver": FALLBACK_RECEIVER,
        "matchers": [_matcher((TENANT_LABEL, "=", customer_id))],
        **route_settings(platform),
    }
    routes = [_route(spec) for spec in ordered_routes(customer_id, specs)]
    if routes:
        route["routes"] = routes
    # The customer's unrouted alerts go where file mode sends them: the platform default.
    default = dict(platform.alertmanager.default_receiver)
    out_receivers = [_receiver(default, FALLBACK_RECEIVER, owner, secrets, PLATFORM_KEYS, platform)]
    for namespace, spec in sorted(receivers, key=lambda item: item[1].receiver_name):
        rendered = receiver_of(spec, namespace, platform)
        del rendered["name"]
        out_receivers.append(
            _receiver(
                rendered, spec.receiver_name, owner, secrets, f"_{spec.receiver_name}", platform
            )
        )
    return {"route": route, "receivers": out_receivers, **_primitives(customer_id, specs)}, secrets


# -- inhibit rules and time intervals (render/am_primitives.py) --------------------------
# AlertmanagerConfig v1alpha1 has no `location` on a time interval (prometheus-operator
# v0.85): a zone other than UTC is refused on the receiver (`unsupported`), never dropped.
UTC_ZONES = ("UTC", "Etc/UTC")


def unsupported(spec: CustomerReceiverSpec) -> list[Problem]:
    """What this receiver says that an AlertmanagerConfig cannot carry, by field."""
    return [
        Problem(
            f"spec.timeIntervals[{i}].timeIntervals[{j}].location",
            f"the prometheus-operator sink cannot apply time zone {period.location!r}: "
            "AlertmanagerConfig v1alpha1 has no location (its times are UTC)",
            "write the times in UTC and leave location unset",
        )
        for i, named in enumerate(spec.time_intervals)
        for j, period in enumerate(named.time_intervals)
        if period.location is not None and period.location not in UTC_ZONES
    ]


def _interval_ref(spec: CustomerReceiverSpec, name: str) -> str:
    """Within the customer's AlertmanagerConfig; prometheus-operator prefixes it with
    `<namespace>/<object>/`, which is the customer's own."""
    return f"{spec.receiver_name}/{name}"


def _primitives(customer_id: str, specs: list[CustomerReceiverSpec]) -> dict[str, Any]:
    inhibits: list[dict[str, Any]] = []
    intervals: list[dict[str, Any]] = []
    for spec in sorted(specs, key=lambda s: s.receiver_name):
        for rule in spec.inhibit_rules:
            source, target, equal = scoped_inhibit(customer_id, rule)
            inhibits.append(
                {
                    "sourceMatch": [_matcher(m) for m in source],
                    "targetMatch": [_matcher(m) for m in target],
                    "equal": equal,
                }
            )
        for named in spec.time_intervals:
            periods = [_period(p) for p in named.time_intervals]
            intervals.append({"name": _interval_ref(spec, named.name), "timeIntervals": periods})
    out: dict[str, Any] = {}
    if inhibits:
        out["inhibitRules"] = inhibits
    if intervals:
        out["muteTimeIntervals"] = intervals
    return out


def _period(period: TimePeriod) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if period.times:
        out["times"] = [{"startTime": t.start_time, "endTime": t.end_time} for t in period.times]
    if period.weekdays:
        out["weekdays"] = list(period.weekdays)
    if period.days_of_month:
        out["daysOfMonth"] = [_day_range(d) for d in period.days_of_month]
    if period.months:
        out["months"] = list(period.months)
    if period.years:
        out["years"] = list(period.years)
    return out


def _day_range(value: str) -> dict[str, int]:
    start, _, end = value.partition(":")
    return {"start": int(start), "end": int(end or start)}


def _route(spec: CustomerReceiverSpec) -> dict[str, Any]:
    """One receiver's route in the CRD's shape (render/alertmanager.py's `route_of`)."""
    out: dict[str, Any] = {"receiver": spec.receiver_name}
    matchers = route_matchers(spec.route)
    if matchers:
        out["matchers"] = [_matcher(m) for m in matchers]
    for key, value in route_options(spec.route).items():
        out[_ROUTE_SETTINGS[key]] = value
    for field, names in (
        ("muteTimeIntervals", spec.route.mute_time_intervals),
        ("activeTimeIntervals", spec.route.active_time_intervals),
    ):
        if names:
            out[field] = [_interval_ref(spec, n) for n in names]
    out["continue"] = spec.route.continue_
    return out


def _matcher(m: Matcher) -> dict[str, str]:
    name, op, value = m
    return {"name": name, "value": value, "matchType": op}


def _receiver(
    rendered: Mapping[str, Any],
    name: str,
    owner: str,
    secrets: SecretKeys,
    prefix: str,
    platform: PlatformConfig,
) -> dict[str, Any]:
    """`rendered` (Alertmanager's channel keys) in the CRD's shape; `owner` names the
    Secret its secret values are copied into."""
    out: dict[str, Any] = {"name": name}
    for channel, configs in rendered.items():
        field = CHANNELS[channel]
        out[field] = []
        for i, cfg in enumerate(configs):
            if channel == "email_configs":
                cfg = _with_smtp(cfg, platform, owner, secrets)
            out[field].append(_channel(channel, cfg, owner, secrets, f"{prefix}.{field}-{i}"))
    return out


def _with_smtp(
    cfg: Mapping[str, Any], platform: PlatformConfig, owner: str, secrets: SecretKeys
) -> dict[str, Any]:
    """An e-mail config with the platform's SMTP settings it does not set itself (as
    Alertmanager's `global` fills them in). Customers' e-mail configs never set them
    (their schema has no such field), so a customer cannot point the SMTP login, nor
    the password it carries, at a server of their own."""
    glob = platform.alertmanager.global_
    out = {field: glob[key] for key, field in SMTP_PLAIN.items() if key in glob}
    out.update(cfg)
    for key, field in SMTP_SECRET.items():
        if key in glob and field not in cfg:
            skey = f"{SMTP_KEYS}.{field.replace('_', '-')}"
            secrets[skey] = str(glob[key])
            out[field] = _SecretRef(owner, skey)
    return out


class _SecretRef(dict[str, str]):
    """A value already in a Secret: written as the reference it is."""

    def __init__(self, name: str, key: str) -> None:
        super().__init__(name=name, key=key)


def _copied_key(
    namespace: str, secret: str, key: str, taken: Mapping[str, object] | None = None
) -> str:
    """The key a referenced Secret key gets in the customer's Secret: readable, unless that
    is longer than a key may be (253) or already names another reference (`a.b` + `c` and
    `a` + `b.c` read alike): then a digest of the reference."""
    readable = f"{namespace}.{secret}.{key}"
    other = (taken or {}).get(readable)
    if len(readable) <= MAX_NAME and other in (None, (namespace, secret, key)):
        return readable
    digest = hashlib.sha256(f"{namespace}/{secret}/{key}".encode()).hexdigest()[:32]
    return f"{namespace}.{digest}"


def _channel(
    channel: str,
    cfg: Mapping[str, Any],
    owner: str,
    secrets: SecretKeys,
    key_prefix: str,
) -> dict[str, Any]:
    plain, secret_fields, pairs = PLAIN[channel], SECRET[channel], KEY_VALUE.get(channel, {})
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        base = key[: -len("_file")] if key.endswith("_file") else None
        if isinstance(value, _SecretRef):
            out[secret_fields[key]] = dict(value)
        elif base in secret_fields and str(value).startswith(f"{REF}/"):
            ns, secret, item = secret_ref_of(REF, str(value))  # "@/<ns>/<secret>/<key>"
            skey = _copied_key(ns, secret, item, secrets)
            secrets[skey] = (ns, secret, item)
            out[secret_fields[base]] = {"name": owner, "key": skey}
        elif key in secret_fields:  # clear text in the spec: still only ever in a Secret
            skey = f"{key_prefix}.{key.replace('_', '-')}"
            secrets[skey] = str(value)
            out[secret_fields[key]] = {"name": owner, "key": skey}
        elif key in pairs:
            out[pairs[key]] = [{"key": k, "value": str(v)} for k, v in sorted(value.items())]
        else:  # KeyError: a key check_platform lets through that has no field, a bug
            out[plain[key]] = value
    return out

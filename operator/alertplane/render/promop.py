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
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import yaml

from ..model import CustomerReceiverSpec
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
from .platform import PlatformConfig
from .secretfiles import secret_ref_of

log = logging.getLogger("alertplane.render.promop")

FALLBACK_RECEIVER = "platform_default"  # not a DNS label: never a customer's receiver name
REF = "@"  # secret paths are rendered as @/<namespace>/<secret>/<key> and turned into refs
_CAMEL = {
    "send_resolved": "sendResolved",
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
}
_CHANNELS = {
    "email_configs": "emailConfigs",
    "slack_configs": "slackConfigs",
    "pagerduty_configs": "pagerdutyConfigs",
    "webhook_configs": "webhookConfigs",
}
_SECRETS = {"api_url": "apiURL", "routing_key": "routingKey"}


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
    """`platform` rendering secret paths under REF, as `alertmanager_config` expects."""
    return platform.model_copy(update={"secrets_dir": REF})


# -- translation of the core's rendered Alertmanager pieces -----------------------------
def alertmanager_config(
    customer_id: str, receivers: list[tuple[str, CustomerReceiverSpec]], platform: PlatformConfig
) -> tuple[dict[str, Any], SecretKeys]:
    """The AlertmanagerConfig spec of one customer, and the keys of its Secret.

    `platform` must render secret paths under REF (`secrets_platform`). Secret keys map to
    the referenced (namespace, Secret, key) or to a clear-text value given in the spec.
    """
    secrets: SecretKeys = {}
    specs = [spec for _, spec in receivers]
    # prometheus-operator forces continue: true up here, so the top route sets none.
    route: dict[str, Any] = {
        "receiver": FALLBACK_RECEIVER,
        "matchers": [_matcher((TENANT_LABEL, "=", customer_id))],
    }
    routes = [_route(spec) for spec in ordered_routes(customer_id, specs)]
    if routes:
        route["routes"] = routes
    out_receivers = [_fallback(platform, customer_id, secrets)]
    for namespace, spec in sorted(receivers, key=lambda item: item[1].receiver_name):
        rendered = receiver_of(spec, namespace, platform)
        out_receivers.append(
            _receiver(rendered, spec.receiver_name, customer_id, secrets, f"_{spec.receiver_name}")
        )
    return {"route": route, "receivers": out_receivers}, secrets


def _fallback(platform: PlatformConfig, customer_id: str, secrets: SecretKeys) -> dict[str, Any]:
    """The customer's unrouted alerts go where file mode sends them: the platform default."""
    body = dict(platform.alertmanager.default_receiver)
    if any(key not in _CHANNELS for key in body):
        log.warning("platform default receiver has channels AlertmanagerConfig cannot express")
        return {"name": FALLBACK_RECEIVER}
    return _receiver(
        {"name": PLATFORM_RECEIVER, **body}, FALLBACK_RECEIVER, customer_id, secrets, "_platform"
    )


def _route(spec: CustomerReceiverSpec) -> dict[str, Any]:
    """One receiver's route in the CRD's shape (render/alertmanager.py's `route_of`)."""
    out: dict[str, Any] = {"receiver": spec.receiver_name}
    matchers = route_matchers(spec.route)
    if matchers:
        out["matchers"] = [_matcher(m) for m in matchers]
    for key, value in route_options(spec.route).items():
        out[_CAMEL[key]] = value
    out["continue"] = spec.route.continue_
    return out


def _matcher(m: Matcher) -> dict[str, str]:
    name, op, value = m
    return {"name": name, "value": value, "matchType": op}


def _receiver(
    rendered: Mapping[str, Any],
    name: str,
    customer_id: str,
    secrets: SecretKeys,
    prefix: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    for channel, configs in rendered.items():
        if channel == "name":
            continue
        field = _CHANNELS[channel]
        out[field] = [
            _channel(cfg, customer_id, secrets, f"{prefix}.{field}-{i}")
            for i, cfg in enumerate(configs)
        ]
    return out


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
    cfg: Mapping[str, Any],
    customer_id: str,
    secrets: SecretKeys,
    key_prefix: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key.endswith("_file") and key[: -len("_file")] in _SECRETS:
            ns, secret, item = secret_ref_of(REF, str(value))  # "@/<ns>/<secret>/<key>"
            skey = _copied_key(ns, secret, item, secrets)
            secrets[skey] = (ns, secret, item)
            out[_SECRETS[key[: -len("_file")]]] = {"name": object_name(customer_id), "key": skey}
        elif key in _SECRETS:  # clear text in the spec: still only ever in a Secret
            skey = f"{key_prefix}.{key.replace('_', '-')}"
            secrets[skey] = str(value)
            out[_SECRETS[key]] = {"name": object_name(customer_id), "key": skey}
        elif key == "headers":
            out["headers"] = [{"key": k, "value": v} for k, v in sorted(value.items())]
        else:
            out[_CAMEL.get(key, key)] = value
    return out

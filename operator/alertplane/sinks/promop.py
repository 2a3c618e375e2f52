"""prometheus-operator sink: one PrometheusRule and one AlertmanagerConfig per customer.

Both are translations of the core's output, never a second renderer: the PrometheusRule
spec is the customer's rendered rule file, and the AlertmanagerConfig is the customer's
rendered route subtree and receivers (render/alertmanager.py) in the CRD's shape.

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

import base64
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import Problem
from ..k8s.objects import (
    ALERTMANAGER_LABEL,
    CUSTOMER_LABEL,
    RULES_LABEL,
    ManagedObjects,
    SinkError,
    check_rendered,
    customer_of_rules,
    labels,
)
from ..kube.client import ApiError, KubeClient
from ..kube.paths import api_path
from ..model import CustomerReceiver, CustomerReceiverSpec
from ..model.common import MAX_NAME
from ..render import ALERTMANAGER_PATH
from ..render.alertmanager import PLATFORM_RECEIVER, customer_route, receiver_of
from ..render.platform import PlatformConfig
from ..render.secretfiles import secret_ref_of
from ..sync import Receivers

log = logging.getLogger("alertplane.sinks.promop")

MONITORING = "monitoring.coreos.com"
FALLBACK_RECEIVER = "platform_default"  # not a DNS label: never a customer's receiver name
_REF = "@"  # secret paths are rendered as @/<namespace>/<secret>/<key> and turned into refs
_MATCHER = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"$')
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


def object_name(customer_id: str) -> str:
    return f"alertplane-{customer_id}"


def _rule_labels(customer_id: str) -> dict[str, str]:
    return labels(customer_id, **{RULES_LABEL: "true"})


class PrometheusOperatorSink:
    written_message = "applied; prometheus-operator loads it into Prometheus/Alertmanager"

    def __init__(self, client: KubeClient, namespace: str, platform: PlatformConfig) -> None:
        self.client = client
        self.namespace = namespace
        self.platform = platform.model_copy(update={"secrets_dir": _REF})
        v1, v1alpha1 = f"{MONITORING}/v1", f"{MONITORING}/v1alpha1"
        self.rules = ManagedObjects(client, v1, "PrometheusRule", "prometheusrules", namespace)
        self.amconfigs = ManagedObjects(
            client, v1alpha1, "AlertmanagerConfig", "alertmanagerconfigs", namespace
        )
        self.secrets = ManagedObjects(client, "v1", "Secret", "secrets", namespace)
        self._secret_cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def start(self) -> None:
        for objects in (self.rules, self.amconfigs, self.secrets):
            objects.load()

    def refresh(self) -> None:
        """Re-read the generated objects that exist (the periodic resync compares with
        them; the full sync that follows also re-reads the Secrets receivers reference)."""
        self.start()

    def generated_rule_files(self) -> list[str]:
        return sorted(
            f"rules/{cid}.yml"
            for name in self.rules.names()
            if (cid := self.rules.labels_of(name).get(CUSTOMER_LABEL))
        )

    # -- writing ----------------------------------------------------------------------
    def write(self, files: Mapping[str, str | None], receivers: Receivers) -> list[str]:
        planned: dict[str, tuple[str, dict[str, Any] | None]] = {}  # rel → (customer, content)
        for rel, text in sorted(files.items()):
            cid = customer_of_rules(rel)
            if cid is None:
                continue
            content = None if text is None else {"spec": yaml.safe_load(text)}
            if content is None or self.rules.differs(object_name(cid), _rule_labels(cid), content):
                planned[rel] = (cid, content)
        # promtool only for the rule files about to be written (a full resync of unchanged
        # output checks none of them); amtool always, on the whole configuration.
        check_rendered(
            {
                rel: text
                for rel, text in files.items()
                if rel in planned or not rel.startswith("rules/")
            }
        )
        changed: list[str] = []
        dirty = {cid for rel in files if (cid := customer_of_rules(rel)) is not None}
        try:
            for rel, (cid, content) in planned.items():
                if content is None:
                    wrote = self.rules.remove(object_name(cid))
                else:
                    wrote = self.rules.put(object_name(cid), _rule_labels(cid), content)
                if wrote:
                    changed.append(rel)
            if ALERTMANAGER_PATH in files and self._write_alertmanager(receivers, dirty):
                changed.append(ALERTMANAGER_PATH)
        finally:
            self._secret_cache = {}
        return changed

    def _write_alertmanager(self, receivers: Receivers, dirty: set[str]) -> bool:
        wrote = False
        for cid in sorted(receivers):
            spec, secret_keys = alertmanager_config(cid, receivers[cid], self.platform)
            name = object_name(cid)
            if cid in dirty or name not in self.secrets.known:
                data = self._secret_data(secret_keys)
                if data:
                    wrote |= self.secrets.put(name, labels(cid), {"data": data})
                else:
                    wrote |= self.secrets.remove(name)
            wrote |= self.amconfigs.put(
                name, labels(cid, **{ALERTMANAGER_LABEL: "true"}), {"spec": spec}
            )
        live = {object_name(cid) for cid in receivers}
        for objects in (self.amconfigs, self.secrets):
            for name in objects.names():
                if name not in live:
                    wrote |= objects.remove(name)
        return wrote

    def _secret_data(self, keys: dict[str, tuple[str, str, str] | str]) -> dict[str, str]:
        """Base64 data of the customer's Secret: copied keys as they are, clear values encoded."""
        data: dict[str, str] = {}
        for key, source in sorted(keys.items()):
            if isinstance(source, str):
                data[key] = base64.b64encode(source.encode()).decode()
                continue
            ns, secret, item = source
            value = (self.read_secret(ns, secret) or {}).get(item)
            if value is None:  # reported on the receiver by check_secrets
                log.warning("Secret %s/%s has no key %s; left out", ns, secret, item)
                continue
            data[key] = value
        return data

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, base64 as the API returns it (None when absent), once per sync."""
        key = (namespace, name)
        if key not in self._secret_cache:
            try:
                found = self.client.get(api_path("v1", "secrets", namespace, name))
            except ApiError as exc:
                raise SinkError(f"cannot read Secret {namespace}/{name}: {exc}") from exc
            self._secret_cache[key] = None if found is None else dict(found.get("data") or {})
        return self._secret_cache[key]

    def check_secrets(self, obj: CustomerReceiver) -> list[Problem]:
        """Every Secret key a receiver references exists (prometheus-operator needs it)."""
        problems = []
        ns = obj.metadata.namespace
        spec = obj.spec
        refs = [
            (f"spec.slack[{i}].apiURLSecretRef", c.api_url_secret_ref)
            for i, c in enumerate(spec.slack)
        ]
        refs += [
            (f"spec.pagerduty[{i}].routingKeySecretRef", c.routing_key_secret_ref)
            for i, c in enumerate(spec.pagerduty)
        ]
        for path, ref in refs:
            if ref is None:
                continue
            data = self.read_secret(ns, ref.name)
            if data is None:
                problems.append(
                    Problem(path, f"Secret {ns}/{ref.name} does not exist", "create it")
                )
            elif ref.key not in data:
                problems.append(
                    Problem(
                        path,
                        f"Secret {ns}/{ref.name} has no key {ref.key!r}",
                        f"add the key or use one of {', '.join(sorted(data)) or '(none)'}",
                    )
                )
        return problems

    def location(self, rel: str, customer_id: str) -> str:
        objects = self.amconfigs if rel == ALERTMANAGER_PATH else self.rules
        return objects.location(object_name(customer_id))


# -- translation of the core's rendered Alertmanager pieces -----------------------------
def alertmanager_config(
    customer_id: str, receivers: list[tuple[str, CustomerReceiverSpec]], platform: PlatformConfig
) -> tuple[dict[str, Any], dict[str, tuple[str, str, str] | str]]:
    """The AlertmanagerConfig spec of one customer, and the keys of its Secret.

    `platform` must render secret paths under `_REF`. Secret keys map to the referenced
    (namespace, Secret, key) or to a clear-text value given in the spec.
    """
    secrets: dict[str, tuple[str, str, str] | str] = {}
    specs = [spec for _, spec in receivers]
    route = _route(customer_route(customer_id, specs), customer_id)
    route.pop("continue", None)  # prometheus-operator forces continue: true up here
    out_receivers = [_fallback(platform, customer_id, secrets)]
    for namespace, spec in sorted(receivers, key=lambda item: item[1].receiver_name):
        rendered = receiver_of(spec, namespace, platform)
        out_receivers.append(
            _receiver(rendered, spec.receiver_name, customer_id, secrets, f"_{spec.receiver_name}")
        )
    return {"route": route, "receivers": out_receivers}, secrets


def _fallback(
    platform: PlatformConfig, customer_id: str, secrets: dict[str, tuple[str, str, str] | str]
) -> dict[str, Any]:
    """The customer's unrouted alerts go where file mode sends them: the platform default."""
    body = dict(platform.alertmanager.default_receiver)
    if any(key not in _CHANNELS for key in body):
        log.warning("platform default receiver has channels AlertmanagerConfig cannot express")
        return {"name": FALLBACK_RECEIVER}
    return _receiver(
        {"name": PLATFORM_RECEIVER, **body}, FALLBACK_RECEIVER, customer_id, secrets, "_platform"
    )


def _route(r: Mapping[str, Any], customer_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": _local(r["receiver"], customer_id)}
    if r.get("matchers"):
        out["matchers"] = [_matcher(m) for m in r["matchers"]]
    for key, value in r.items():
        if key in _CAMEL:
            out[_CAMEL[key]] = value
    if "continue" in r:
        out["continue"] = r["continue"]
    if r.get("routes"):
        out["routes"] = [_route(child, customer_id) for child in r["routes"]]
    return out


def _local(name: str, customer_id: str) -> str:
    if name == PLATFORM_RECEIVER:
        return FALLBACK_RECEIVER
    return name.removeprefix(f"{customer_id}/")


def _matcher(text: str) -> dict[str, str]:
    found = _MATCHER.match(text)
    if found is None:
        raise SinkError(f"cannot translate matcher {text!r}", "this is a bug in alertplane")
    value = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), found.group(3))
    return {"name": found.group(1), "value": value, "matchType": found.group(2)}


def _receiver(
    rendered: Mapping[str, Any],
    name: str,
    customer_id: str,
    secrets: dict[str, tuple[str, str, str] | str],
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
    secrets: dict[str, tuple[str, str, str] | str],
    key_prefix: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key.endswith("_file") and key[: -len("_file")] in _SECRETS:
            ns, secret, item = secret_ref_of(_REF, str(value))  # "@/<ns>/<secret>/<key>"
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

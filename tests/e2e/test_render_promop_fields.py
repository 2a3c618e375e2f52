"""Every field the prometheus-operator translation writes, through the real CRD and the real
prometheus-operator v0.85.0 (tests/support/promop_env.py).

render/promop_channels.py maps each Alertmanager key to an AlertmanagerConfig field; a
wrong name would be pruned silently by the API server (structural schema) and the
setting lost. Here a platform config using every mapped key (every SMTP setting, a
platform default receiver with every supported field of every channel) is rendered into
the base configuration and one customer's AlertmanagerConfig, applied, and:

- the API server stores each spec exactly as written (nothing pruned);
- prometheus-operator accepts the base (Reconciled=True) and generates exactly the
  Alertmanager configuration tests/golden/operator_merge.py predicts from the objects,
  Secret values resolved (so the offline golden check merges as the real one does);
- a second platform config (the other fields: service_key, icon/image/thumb URLs) is
  applied over it and generated the same way.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from alertplane.kube.paths import api_path
from alertplane.model import CustomerReceiver, CustomerReceiverSpec
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import (
    BASE_NAME,
    SecretKeys,
    alertmanager_config,
    object_name,
    platform_config,
    secrets_platform,
)
from alertplane.validate import parse_document
from tests.golden.operator_merge import merged_config
from tests.support import promop_env as po
from tests.support.factories import receiver
from tests.support.operator_env import Cluster, wait_for

NS = "monitoring"
AMC = "monitoring.coreos.com/v1alpha1"
SMTP = {
    "smtp_smarthost": "mail.example:587",
    "smtp_from": "alerts@platform.example",
    "smtp_hello": "alertplane.example",
    "smtp_require_tls": True,
    "smtp_auth_username": "user",
    "smtp_auth_identity": "identity",
    "smtp_auth_password": "smtp-password",
    "smtp_auth_secret": "smtp-secret",
    "resolve_timeout": "5m",
}
ROUTE = {"group_by": ["customer_id", "alertname"], "group_wait": "10s",
         "group_interval": "1m", "repeat_interval": "4h"}  # fmt: skip
EVERY_FIELD = {
    "email_configs": [{"to": "noc@platform.example", "headers": {"X-Team": "noc"},
                       "html": "<b>{{ .Status }}</b>", "text": "{{ .Status }}",
                       "send_resolved": True}],
    "slack_configs": [{"api_url": "https://hooks.slack.example/T/1", "channel": "#noc",
                       "username": "alertplane", "color": "danger", "title": "t",
                       "title_link": "https://x.example", "pretext": "p", "text": "x",
                       "footer": "f", "fallback": "fb", "callback_id": "cb",
                       "icon_emoji": ":fire:", "short_fields": True, "link_names": True,
                       "mrkdwn_in": ["text"], "send_resolved": False}],
    "pagerduty_configs": [{"routing_key": "platform-rk", "url": "https://events.pd.example/v2",
                           "client": "alertplane", "client_url": "https://c.example",
                           "description": "d", "severity": "error", "class": "k",
                           "group": "g", "component": "c", "details": {"a": "1"}}],
    "webhook_configs": [{"url": "https://w.example/x", "max_alerts": 5,
                         "send_resolved": True}],
}  # fmt: skip
OTHER_FIELDS = {
    "slack_configs": [{"api_url": "https://hooks.slack.example/T/2",
                       "icon_url": "https://i.example", "image_url": "https://m.example",
                       "thumb_url": "https://t.example"}],
    "pagerduty_configs": [{"service_key": "platform-sk"}],
}  # fmt: skip


def _platform(default: dict[str, Any]) -> PlatformConfig:
    raw = {"alertmanager": {"global": SMTP, "defaultReceiver": default, "route": ROUTE}}
    return secrets_platform(PlatformConfig.model_validate(raw))


def _customer() -> CustomerReceiverSpec:
    manifest = receiver(
        "acme", "team", webhook=[], email=[{"to": ["ops@acme.example"], "subjectTemplate": "s"}]
    )
    obj, problems = parse_document(manifest)
    assert isinstance(obj, CustomerReceiver), problems
    return obj.spec


def _apply(
    cluster: Cluster, name: str, labels: dict[str, str], spec: Any, keys: SecretKeys
) -> None:
    if keys:
        data = {k: base64.b64encode(str(v).encode()).decode() for k, v in keys.items()}
        meta = {"name": name, "namespace": NS}
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data}
        cluster.api.apply(api_path("v1", "secrets", NS, name), secret)
    path = api_path(AMC, "alertmanagerconfigs", NS, name)
    meta = {"name": name, "namespace": NS, "labels": labels}
    cluster.api.apply(path, {"apiVersion": AMC, "kind": "AlertmanagerConfig",
                             "metadata": meta, "spec": spec})  # fmt: skip
    stored = cluster.api.get(path)
    assert stored is not None and stored["spec"] == spec, f"{name}: the API server pruned fields"


def _without_false_continue(value: Any) -> Any:
    """prometheus-operator leaves `continue: false` out (omitempty); the helper keeps it."""
    if isinstance(value, dict):
        return {k: _without_false_continue(v) for k, v in value.items() if k != "continue" or v}
    if isinstance(value, list):
        return [_without_false_continue(v) for v in value]
    return value


ALERTMANAGER = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Alertmanager",
    "metadata": {"name": "main", "namespace": NS},
    "spec": {
        "replicas": 1,
        "alertmanagerConfigSelector": {"matchLabels": {"alertplane.io/alertmanager": "true"}},
        "alertmanagerConfigMatcherStrategy": {"type": "None"},
        "alertmanagerConfiguration": {"name": BASE_NAME},
    },
}


def _generates_as_predicted(cluster: Cluster, default: dict[str, Any]) -> None:
    platform = _platform(default)
    base, base_keys = platform_config(platform)
    mine, mine_keys = alertmanager_config("acme", [("acme", _customer())], platform)
    name = object_name("acme")
    _apply(cluster, BASE_NAME, {}, base, base_keys)
    _apply(cluster, name, {"alertplane.io/alertmanager": "true"}, mine, mine_keys)
    values = {BASE_NAME: base_keys, name: mine_keys}
    expected = _without_false_continue(
        merged_config(NS, (BASE_NAME, base), {name: mine}, lambda s, k: str(values[s][k]))
    )

    def generated() -> dict[str, Any] | None:
        config = po.alertmanager_config(cluster, NS, "main")
        if config is None:
            return None
        got = {k: config.get(k) for k in ("route", "receivers")}
        return got if got == expected else None

    try:
        wait_for(generated, 60, "the generated configuration the translation predicts")
    except AssertionError as exc:
        got = po.as_json(po.alertmanager_config(cluster, NS, "main"))
        exc.add_note(f"generated:\n{got}\nexpected:\n{po.as_json(expected)}")
        raise
    po.wait_reconciled(cluster, "alertmanagers", NS, "main")


def test_prometheus_operator_builds_what_the_translation_says(
    cluster: Cluster, tmp_path: Path
) -> None:
    with po.promop_running(cluster, tmp_path, [NS]):
        path = api_path("monitoring.coreos.com/v1", "alertmanagers", NS, "main")
        cluster.api.apply(path, ALERTMANAGER)
        for default in (EVERY_FIELD, OTHER_FIELDS):  # the second replaces the first
            _generates_as_predicted(cluster, default)

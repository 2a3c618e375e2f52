"""The AlertmanagerConfig translation for the prometheus-operator sink: routes stay isolated,
secrets go to the Secret only."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from alertplane.admission import RECONCILE, admit
from alertplane.errors import Source, UsageError
from alertplane.k8s.operator import OperatorOptions, run_operator
from alertplane.manifests import Document
from alertplane.model import CustomerReceiver
from alertplane.render import ALERTMANAGER_PATH
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import FALLBACK_RECEIVER, alertmanager_config
from alertplane.sinks import promop as promop_sink
from alertplane.sinks.base import Sink
from alertplane.sinks.factory import PROMETHEUS_OPERATOR, SinkSettings, build_sink
from alertplane.validate import parse_document
from tests.support.factories import platform_global, receiver
from tests.unit.sinks.test_conformance import FakeKube


def _receiver(manifest: dict[str, Any]) -> CustomerReceiver:
    obj, problems = parse_document(manifest)
    assert isinstance(obj, CustomerReceiver), problems
    return obj


def test_alertmanager_config_keeps_routes_isolated_and_secrets_out() -> None:
    platform = PlatformConfig.model_validate(
        {"secretsDir": "@", "alertmanager": {"defaultReceiver": {"webhook_configs": [
            {"url": "http://platform.example/hook"}]}}}
    )  # fmt: skip
    pager = _receiver(
        receiver(
            "acme",
            name="pager",
            webhook=[],
            pagerduty=[{"routingKeySecretRef": {"name": "pd", "key": "rk"}}],
            route={"priority": 1, "match": {"severity": ["critical", "warning"],
                                            "labels": {"team": 'a"b'}}},
        )
    )  # fmt: skip
    chat = _receiver(receiver("acme", name="chat", webhook=[], slack=[{"apiURL": "https://s/x"}]))
    spec, keys = alertmanager_config(
        "acme", [("team-a", pager.spec), ("team-a", chat.spec)], platform
    )
    route = spec["route"]
    assert route["matchers"] == [{"name": "customer_id", "value": "acme", "matchType": "="}]
    assert route["receiver"] == FALLBACK_RECEIVER and "continue" not in route
    first = route["routes"][0]
    assert first["receiver"] == "pager"
    assert first["matchers"] == [
        {"name": "severity", "value": "critical|warning", "matchType": "=~"},
        {"name": "team", "value": 'a"b', "matchType": "="},
    ]
    names = [r["name"] for r in spec["receivers"]]
    assert names == [FALLBACK_RECEIVER, "chat", "pager"]
    assert spec["receivers"][0]["webhookConfigs"] == [{"url": "http://platform.example/hook"}]
    assert spec["receivers"][2]["pagerdutyConfigs"][0]["routingKey"] == {
        "name": "alertplane-acme",
        "key": "team-a.pd.rk",
    }
    assert keys["team-a.pd.rk"] == ("team-a", "pd", "rk")
    slack_ref = spec["receivers"][1]["slackConfigs"][0]["apiURL"]
    assert keys[slack_ref["key"]] == "https://s/x"  # clear text goes to the Secret only
    assert "https://s/x" not in json.dumps(spec)


# -- the write side: the base configuration and its Secret ------------------------------
BASE_AMC = "/apis/monitoring.coreos.com/v1alpha1/namespaces/monitoring/alertmanagerconfigs"
SECRETS = "/api/v1/namespaces/monitoring/secrets"
SMTP_PLATFORM = {
    "alertmanager": {
        "global": {"smtp_smarthost": "m.example:25", "smtp_from": "a@p.example",
                   "smtp_auth_password": "platform-pw"},
        "defaultReceiver": {"email_configs": [{"to": "noc@p.example"}]},
        "route": {"group_wait": "10s"},
    }
}  # fmt: skip


def _sink(
    monkeypatch: pytest.MonkeyPatch, kube: FakeKube, platform: dict[str, Any] | None = None
) -> Sink:
    monkeypatch.setattr(promop_sink, "check_output", lambda files: None)
    settings = SinkSettings(
        kind=PROMETHEUS_OPERATOR,
        namespace="monitoring",
        platform=PlatformConfig.model_validate(platform or {}),
    )
    sink = build_sink(settings, kube)
    sink.start()
    return sink


def _write(sink: Sink, *customers: str) -> list[str]:
    receivers = {c: [(c, _receiver(receiver(c)).spec)] for c in customers}
    return sink.write({ALERTMANAGER_PATH: "checked elsewhere"}, receivers)


def test_base_configuration_is_written_once_and_never_labelled_as_a_customer_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube = FakeKube()
    sink = _sink(monkeypatch, kube, SMTP_PLATFORM)
    assert _write(sink) == [ALERTMANAGER_PATH]
    base = kube.objects[f"{BASE_AMC}/alertplane.platform"]
    assert base["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "alertplane"}
    assert base["spec"]["route"] == {"receiver": "platform-default", "groupWait": "10s"}
    email = base["spec"]["receivers"][0]["emailConfigs"][0]
    assert email["authPassword"] == {"name": "alertplane.platform", "key": "_.smtp.auth-password"}
    secret = kube.objects[f"{SECRETS}/alertplane.platform"]
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "alertplane"}
    assert secret["data"] == {"_.smtp.auth-password": base64.b64encode(b"platform-pw").decode()}
    writes = kube.writes
    assert _write(sink) == [] and kube.writes == writes  # only when changed


def test_base_survives_the_last_customer_and_a_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube()
    sink = _sink(monkeypatch, kube, SMTP_PLATFORM)
    _write(sink, "acme", "globex")
    assert f"{BASE_AMC}/alertplane-acme" in kube.objects
    _write(sink)  # every customer gone: theirs removed, the base stays
    names = sorted(p.rsplit("/", 1)[1] for p in kube.objects)
    assert names == ["alertplane.platform", "alertplane.platform"]  # AMC + Secret
    writes = kube.writes
    restarted = _sink(monkeypatch, kube, SMTP_PLATFORM)
    assert _write(restarted) == [] and kube.writes == writes


def test_base_follows_a_new_platform_config_and_drops_a_secret_no_longer_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube = FakeKube()
    _write(_sink(monkeypatch, kube, SMTP_PLATFORM))
    hook = {"alertmanager": {"defaultReceiver": {"webhook_configs": [{"url": "http://h"}]}}}
    _write(_sink(monkeypatch, kube, hook))
    base = kube.objects[f"{BASE_AMC}/alertplane.platform"]
    assert base["spec"] == {
        "route": {"receiver": "platform-default"},
        "receivers": [{"name": "platform-default", "webhookConfigs": [{"url": "http://h"}]}],
    }
    assert f"{SECRETS}/alertplane.platform" not in kube.objects


def test_customer_secret_carries_the_smtp_password_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = FakeKube()
    sink = _sink(monkeypatch, kube, SMTP_PLATFORM)
    spec = _receiver(receiver("acme", webhook=[], email=[{"to": ["o@acme.example"]}])).spec
    sink.write({ALERTMANAGER_PATH: "x"}, {"acme": [("acme", spec)]})
    amc = kube.objects[f"{BASE_AMC}/alertplane-acme"]
    assert amc["metadata"]["labels"]["alertplane.io/alertmanager"] == "true"
    assert "platform-pw" not in json.dumps(amc)
    data = kube.objects[f"{SECRETS}/alertplane-acme"]["data"]
    assert base64.b64decode(data["_.smtp.auth-password"]) == b"platform-pw"


def test_a_platform_config_the_sink_cannot_write_is_refused_at_start() -> None:
    settings = SinkSettings(
        kind=PROMETHEUS_OPERATOR,
        platform=PlatformConfig.model_validate(
            {"alertmanager": {"global": {"smtp_auth_password_file": "/etc/pw"}}}
        ),
    )
    with pytest.raises(UsageError, match=r"alertmanager\.global\.smtp_auth_password_file"):
        build_sink(settings, FakeKube())


def test_email_without_platform_smtp_is_invalid_before_the_sink_sees_it() -> None:
    """prometheus-operator would fail to build the whole configuration for an e-mail
    config with no smarthost/from (amcfg.go) and freeze every customer: the reconciler's
    admission (the operator always passes its platform config) marks the receiver Invalid
    with a field path and a hint, and only the others reach the sink."""
    docs = [
        Document(Source("<test>", 1), receiver("acme", webhook=[], email=[{"to": ["o@a.ex"]}])),
        Document(Source("<test>", 2), receiver("globex")),
    ]
    no_smtp = platform_global(smtp_smarthost="m.example:25")  # no smtp_from
    for platform in (PlatformConfig(), no_smtp):
        admission = admit(docs, RECONCILE.with_tools(False), platform)
        [problem] = admission.problems
        assert (problem.path, problem.message) == (
            "spec.email",
            "the platform has no SMTP server configured",
        )
        assert "smtp_smarthost" in problem.hint and "smtp_from" in problem.hint
        assert problem.obj is not None and problem.obj.name == "acme-oncall"
    with_smtp = platform_global(smtp_smarthost="m.example:25", smtp_from="a@p.example")
    assert admit(docs, RECONCILE.with_tools(False), with_smtp).problems == []


def test_the_operator_refuses_such_a_platform_config_before_it_connects(tmp_path: Path) -> None:
    """At platform-config load, with the key and what to use instead; before the health
    server, the cluster login or any write (no kubeconfig exists here to reach)."""
    config = tmp_path / "platform.yaml"
    config.write_text("alertmanager:\n  global:\n    http_config: {}\n", encoding="utf-8")
    opts = OperatorOptions(
        sink=PROMETHEUS_OPERATOR,
        platform_config=str(config),
        kubeconfig=str(tmp_path / "no-such-kubeconfig"),
    )
    with pytest.raises(UsageError) as caught:
        run_operator(opts)
    assert "alertmanager.global.http_config: AlertmanagerConfig cannot express" in str(caught.value)
    assert "spec.alertmanagerConfiguration.global.httpConfig" in str(caught.value)

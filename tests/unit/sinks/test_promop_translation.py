"""The AlertmanagerConfig translation for the prometheus-operator sink: routes stay isolated,
secrets go to the Secret only."""

from __future__ import annotations

import json
from typing import Any

from alertplane.model import CustomerReceiver
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import FALLBACK_RECEIVER, alertmanager_config
from alertplane.validate import parse_document
from tests.support.factories import receiver


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

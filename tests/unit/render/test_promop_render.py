"""render/promop.py and render/promop_channels.py: the base configuration, the platform's
route and SMTP settings on every customer's AlertmanagerConfig, and what the
prometheus-operator sink refuses at start. Exact values for every mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alertplane.errors import UsageError
from alertplane.model import CustomerReceiver, CustomerReceiverSpec
from alertplane.model.common import MAX_NAME
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import (
    BASE_NAME,
    FALLBACK_RECEIVER,
    alertmanager_config,
    object_name,
    platform_config,
    secrets_platform,
)
from alertplane.render.promop_channels import global_problems, receiver_problems
from alertplane.validate import parse_document
from tests.support.factories import receiver

SMTP = {
    "smtp_smarthost": "mail.example:587",
    "smtp_from": "alerts@platform.example",
    "smtp_hello": "alertplane.example",
    "smtp_require_tls": True,
    "smtp_auth_username": "alertplane",
    "smtp_auth_identity": "alertplane-id",
    "smtp_auth_password": "pw-of-the-platform",
    "smtp_auth_secret": "cram-secret",
}
ROUTE = {"group_by": ["customer_id", "alertname"], "group_wait": "10s",
         "group_interval": "1m", "repeat_interval": "4h"}  # fmt: skip


def _platform(**alertmanager: Any) -> PlatformConfig:
    return secrets_platform(PlatformConfig.model_validate({"alertmanager": alertmanager}))


def _spec(**fields: Any) -> CustomerReceiverSpec:
    obj, problems = parse_document(receiver("acme", **fields))
    assert isinstance(obj, CustomerReceiver), problems
    return obj.spec


def test_base_configuration_routes_everything_to_platform_default_and_nothing_else() -> None:
    platform = _platform(
        route=ROUTE, defaultReceiver={"webhook_configs": [{"url": "http://p.example/hook"}]}
    )
    spec, keys = platform_config(platform)
    assert spec == {
        "route": {
            "receiver": "platform-default",
            "groupBy": ["customer_id", "alertname"],
            "groupWait": "10s",
            "groupInterval": "1m",
            "repeatInterval": "4h",
        },
        "receivers": [
            {"name": "platform-default", "webhookConfigs": [{"url": "http://p.example/hook"}]}
        ],
    }
    assert keys == {}
    assert BASE_NAME == "alertplane.platform"
    assert all(object_name(c) != BASE_NAME for c in ("platform", "alertplane.platform", ""))


def test_base_without_platform_config_is_a_null_receiver() -> None:
    spec, keys = platform_config(_platform())
    assert spec == {"route": {"receiver": "platform-default"}, "receivers": [
        {"name": "platform-default"}]}  # fmt: skip
    assert keys == {}


def test_customer_top_route_carries_the_platform_route_settings() -> None:
    spec, _ = alertmanager_config("acme", [("acme", _spec())], _platform(route=ROUTE))
    route = spec["route"]
    assert {k: route[k] for k in ("groupBy", "groupWait", "groupInterval", "repeatInterval")} == {
        "groupBy": ["customer_id", "alertname"],
        "groupWait": "10s",
        "groupInterval": "1m",
        "repeatInterval": "4h",
    }
    assert "continue" not in route  # prometheus-operator forces it; we set none
    assert route["receiver"] == FALLBACK_RECEIVER
    assert route["routes"][0] == {"receiver": "oncall", "continue": False}


def test_every_email_config_carries_every_smtp_setting_and_passwords_by_reference() -> None:
    platform = _platform(
        **{"global": SMTP},
        defaultReceiver={"email_configs": [{"to": "noc@platform.example", "from": "noc@p.ex"}]},
    )
    spec, keys = alertmanager_config(
        "acme", [("acme", _spec(webhook=[], email=[{"to": ["a@acme.example"]}]))], platform
    )
    fallback, mine = spec["receivers"]
    ref_pw = {"name": "alertplane-acme", "key": "_.smtp.auth-password"}
    ref_secret = {"name": "alertplane-acme", "key": "_.smtp.auth-secret"}
    assert mine["emailConfigs"] == [
        {
            "to": "a@acme.example",
            "smarthost": "mail.example:587",
            "from": "alerts@platform.example",
            "hello": "alertplane.example",
            "requireTLS": True,
            "authUsername": "alertplane",
            "authIdentity": "alertplane-id",
            "authPassword": ref_pw,
            "authSecret": ref_secret,
        }
    ]
    # The platform default's own `from` wins over the global one, as in Alertmanager.
    assert fallback["emailConfigs"][0]["from"] == "noc@p.ex"
    assert fallback["emailConfigs"][0]["smarthost"] == "mail.example:587"
    assert fallback["emailConfigs"][0]["authPassword"] == ref_pw
    assert keys == {"_.smtp.auth-password": "pw-of-the-platform",
                    "_.smtp.auth-secret": "cram-secret"}  # fmt: skip
    assert "pw-of-the-platform" not in json.dumps(spec)
    assert "cram-secret" not in json.dumps(spec)


def test_base_secret_holds_the_smtp_password_of_its_email_config() -> None:
    platform = _platform(
        **{"global": SMTP}, defaultReceiver={"email_configs": [{"to": "noc@platform.example"}]}
    )
    spec, keys = platform_config(platform)
    email = spec["receivers"][0]["emailConfigs"][0]
    assert email["authPassword"] == {"name": BASE_NAME, "key": "_.smtp.auth-password"}
    assert keys["_.smtp.auth-password"] == "pw-of-the-platform"
    assert "pw-of-the-platform" not in json.dumps(spec)


def test_no_smtp_secret_keys_without_an_email_config() -> None:
    spec, keys = alertmanager_config("acme", [("acme", _spec())], _platform(**{"global": SMTP}))
    assert keys == {}
    assert "smarthost" not in json.dumps(spec)


def test_customer_cannot_set_smtp_fields_on_its_email() -> None:
    """Exfiltration: a customer's smarthost would receive the platform's SMTP login."""
    for field in ("smarthost", "authPassword", "from", "auth_password", "requireTLS"):
        obj, problems = parse_document(
            receiver("acme", webhook=[], email=[{"to": ["a@acme.example"], field: "x"}])
        )
        assert obj is None and problems, field
        assert any(field in p.path or field in p.message for p in problems), problems


def test_platform_default_channels_map_exactly_and_clear_secrets_go_to_the_secret() -> None:
    default = {
        "slack_configs": [{"api_url": "https://hooks.slack.example/T/1", "channel": "#noc",
                           "title_link": "http://x", "icon_url": "http://i",
                           "send_resolved": True}],
        "pagerduty_configs": [{"routing_key": "rk-platform", "client_url": "http://c",
                               "details": {"b": "2", "a": "1"}, "severity": "error"}],
        "webhook_configs": [{"url": "http://w.example", "max_alerts": 5}],
        "email_configs": [{"to": "n@p.example", "headers": {"Subject": "s"},
                           "auth_password": "own-pw", "require_tls": False}],
    }  # fmt: skip
    platform = _platform(**{"global": {"smtp_smarthost": "m:25", "smtp_from": "f@p"}},
                         defaultReceiver=default)  # fmt: skip
    spec, keys = alertmanager_config("acme", [], platform)
    fallback = spec["receivers"][0]
    sec = "alertplane-acme"

    def key(field: str) -> dict[str, str]:
        return {"name": sec, "key": f"_.platform-default.{field}"}

    assert fallback == {
        "name": "platform_default",
        "slackConfigs": [{"apiURL": key("slackConfigs-0.api-url"),
                          "channel": "#noc", "titleLink": "http://x", "iconURL": "http://i",
                          "sendResolved": True}],
        "pagerdutyConfigs": [{"routingKey": key("pagerdutyConfigs-0.routing-key"),
                              "clientURL": "http://c", "severity": "error",
                              "details": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}],
        "webhookConfigs": [{"url": "http://w.example", "maxAlerts": 5}],
        "emailConfigs": [{"to": "n@p.example", "smarthost": "m:25", "from": "f@p",
                          "headers": [{"key": "Subject", "value": "s"}], "requireTLS": False,
                          "authPassword": key("emailConfigs-0.auth-password")}],
    }  # fmt: skip
    assert keys == {
        "_.platform-default.slackConfigs-0.api-url": "https://hooks.slack.example/T/1",
        "_.platform-default.pagerdutyConfigs-0.routing-key": "rk-platform",
        "_.platform-default.emailConfigs-0.auth-password": "own-pw",
    }
    base, base_keys = platform_config(platform)
    assert base["receivers"][0]["slackConfigs"][0]["apiURL"]["name"] == BASE_NAME
    assert base_keys == keys


def test_customer_receiver_named_platform_cannot_take_the_platform_default_keys() -> None:
    """Clear values are keyed by receiver; the platform's keys start with "_." which no
    receiver name (a DNS label) can spell, so a receiver `platform` keeps its own."""
    platform = _platform(defaultReceiver={"slack_configs": [{"api_url": "https://platform/x"}]})
    spec, keys = alertmanager_config(
        "acme",
        [("acme", _spec(name="platform", webhook=[], slack=[{"apiURL": "https://acme/y"}]))],
        platform,
    )
    assert sorted(keys.values()) == ["https://acme/y", "https://platform/x"]
    refs = [r["slackConfigs"][0]["apiURL"]["key"] for r in spec["receivers"]]
    assert refs == ["_.platform-default.slackConfigs-0.api-url", "_platform.slackConfigs-0.api-url"]


def test_copied_secret_keys_at_max_length_become_digests_without_collision() -> None:
    long_ns = "n" * 63
    long_secret = "s" * MAX_NAME
    refs = [
        {"name": long_secret, "key": "k"},  # readable would be > 253
        {"name": "a.b", "key": "c"},
        {"name": "a", "key": "b.c"},  # reads like the one before
    ]
    specs = [
        (long_ns, _spec(name=f"r{i}", webhook=[], pagerduty=[{"routingKeySecretRef": ref}]))
        for i, ref in enumerate(refs)
    ]
    spec, keys = alertmanager_config("acme", specs, _platform())
    assert len(keys) == 3 and all(len(k) <= MAX_NAME for k in keys)
    assert sorted(keys.values(), key=str) == sorted(
        [(long_ns, r["name"], r["key"]) for r in refs], key=str
    )
    used = [r["pagerdutyConfigs"][0]["routingKey"]["key"] for r in spec["receivers"][1:]]
    assert len(set(used)) == 3


def test_names_at_max_length_stay_valid_object_names() -> None:
    cid = "c" * 63
    spec, _ = alertmanager_config(cid, [("ns", _spec_for(cid, "r" * 63))], _platform())
    assert len(object_name(cid)) <= MAX_NAME
    assert spec["route"]["matchers"] == [{"name": "customer_id", "value": cid, "matchType": "="}]
    assert spec["receivers"][1]["name"] == "r" * 63


def _spec_for(customer: str, name: str) -> CustomerReceiverSpec:
    obj, problems = parse_document(receiver(customer, name))
    assert isinstance(obj, CustomerReceiver), problems
    return obj.spec


# -- refused at start ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("smtp_auth_password_file", "give smtp_auth_password itself"),
        ("smtp_auth_secret_file", "give smtp_auth_secret itself"),
        ("http_config", "spec.alertmanagerConfiguration.global.httpConfig"),
        ("slack_api_url", "give api_url on each alertmanager.defaultReceiver.slack_configs"),
        ("pagerduty_url", "give url on each alertmanager.defaultReceiver.pagerduty_configs"),
        ("opsgenie_api_key", "opsGenieApiKey"),
        ("wechat_api_url", "remove it; this sink writes only"),
        ("smtp_tls_config", "remove it; this sink writes only"),
    ],
)
def test_global_keys_amc_cannot_express_are_refused_by_name(key: str, hint: str) -> None:
    with pytest.raises(UsageError) as caught:
        _platform(**{"global": {**SMTP, key: "x"}})
    assert f"alertmanager.global.{key}: AlertmanagerConfig cannot express this key" in str(
        caught.value
    )
    assert hint in str(caught.value)


def test_resolve_timeout_and_every_smtp_key_are_accepted() -> None:
    assert global_problems({**SMTP, "resolve_timeout": "5m"}) == []


def test_a_smarthost_prometheus_operator_would_refuse_is_refused_at_start() -> None:
    problems = global_problems({"smtp_smarthost": "mail.example"})
    assert [(p.path, p.message) for p in problems] == [
        ("alertmanager.global.smtp_smarthost", "not host:port")
    ]


@pytest.mark.parametrize(
    ("default", "path"),
    [
        ({"opsgenie_configs": [{"api_key": "k"}]}, "alertmanager.defaultReceiver.opsgenie_configs"),
        ({"slack_configs": [{"api_url_file": "/s/u"}]},
         "alertmanager.defaultReceiver.slack_configs[0].api_url_file"),
        ({"webhook_configs": [{"url": "http://x", "http_config": {}}]},
         "alertmanager.defaultReceiver.webhook_configs[0].http_config"),
        ({"email_configs": [{"to": "a@b", "from": "f@b"}]},
         "alertmanager.defaultReceiver.email_configs[0].smarthost"),
        ({"email_configs": [{"to": "a@b", "smarthost": "m:25"}]},
         "alertmanager.defaultReceiver.email_configs[0].from"),
        ({"email_configs": [{"to": "a@b", "smarthost": "m", "from": "f@b"}]},
         "alertmanager.defaultReceiver.email_configs[0].smarthost"),
        ({"email_configs": [{"smarthost": "m:25", "from": "f@b"}]},
         "alertmanager.defaultReceiver.email_configs[0].to"),
        ({"webhook_configs": [{}]}, "alertmanager.defaultReceiver.webhook_configs[0].url"),
        ({"pagerduty_configs": [{}]},
         "alertmanager.defaultReceiver.pagerduty_configs[0].routing_key"),
        ({"slack_configs": [{}]}, "alertmanager.defaultReceiver.slack_configs[0].api_url"),
        ({"webhook_configs": {"url": "http://x"}}, "alertmanager.defaultReceiver.webhook_configs"),
    ],
)  # fmt: skip
def test_platform_default_receiver_amc_cannot_express_is_refused(
    default: dict[str, Any], path: str
) -> None:
    """On the base configuration, anything prometheus-operator refuses freezes routing for
    every customer: refused at start instead, by field path."""
    platform = PlatformConfig.model_validate({"alertmanager": {"defaultReceiver": default}})
    assert [p.path for p in receiver_problems(default, platform)] == [path]
    with pytest.raises(UsageError, match=path.replace("[", r"\[").replace("]", r"\]")):
        secrets_platform(platform)


def test_email_default_receiver_with_global_smtp_passes() -> None:
    default = {"email_configs": [{"to": "a@b"}]}
    platform = PlatformConfig.model_validate(
        {"alertmanager": {"global": SMTP, "defaultReceiver": default}}
    )
    assert receiver_problems(default, platform) == []

"""Rendering contract for alertmanager.yml, asserted on the parsed YAML: a platform-default
root, one isolated subtree per customer, receiver routes in (priority, receiverName)
order, channel configs with templates and *_file secrets, platform settings passed
through. Rule files are in test_rules.py, purity and determinism in test_purity.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from alertplane.render import ALERTMANAGER_PATH, render
from alertplane.render.platform import PlatformConfig
from tests.support.factories import alert, receiver
from tests.support.render import (
    SMTP,
    am_of,
    customer_routes,
    do_render,
    receiver_config,
)

# -- alertmanager.yml ----------------------------------------------------------------


def test_root_routes_to_platform_default_then_one_subtree_per_customer() -> None:
    config = am_of(alert("zulu"), receiver("acme"), receiver("globex"), alert("acme"))
    assert list(config) == ["route", "receivers"]
    root = config["route"]
    assert list(root) == ["receiver", "routes"]
    assert root["receiver"] == "platform-default"
    assert [r["matchers"] for r in root["routes"]] == [
        ['customer_id="acme"'],
        ['customer_id="globex"'],
        ['customer_id="zulu"'],
    ]
    for subtree in root["routes"]:
        assert subtree["receiver"] == "platform-default"
        assert subtree["continue"] is False
        assert set(subtree) <= {"receiver", "matchers", "continue", "routes"}


def test_customer_subtree_only_references_its_own_receivers() -> None:
    config = am_of(
        receiver("acme", "a"), receiver("acme", "b"), receiver("globex", "a"), alert("initech")
    )
    for subtree in config["route"]["routes"]:
        (matcher,) = subtree["matchers"]
        cid = matcher.removeprefix('customer_id="').removesuffix('"')
        names = [r["receiver"] for r in subtree.get("routes", [])]
        assert all(n.startswith(f"{cid}/") for n in names)
    assert "routes" not in config["route"]["routes"][2]  # initech: alerts, no receivers


def test_receiver_routes_are_ordered_by_priority_then_name() -> None:
    manifests = [
        receiver(name="beta"),
        receiver(name="zeta", route={"priority": 10}),
        receiver(name="aaa"),
        receiver(name="alpha", route={"priority": 10}),
        receiver(name="mid", route={"priority": 5}),
        receiver(name="first", route={"priority": -3}),
    ]
    routes = customer_routes(am_of(*manifests))
    assert [r["receiver"] for r in routes] == [
        "acme/first",
        "acme/mid",
        "acme/alpha",
        "acme/zeta",
        "acme/aaa",
        "acme/beta",
    ]


def test_a_receiver_without_match_or_options_gets_a_bare_route() -> None:
    assert customer_routes(am_of(receiver(name="all"))) == [
        {"receiver": "acme/all", "continue": False}
    ]


def test_matchers_from_severity_category_and_labels() -> None:
    route = customer_routes(
        am_of(
            receiver(
                route={
                    "match": {
                        "severity": ["warning", "critical"],
                        "category": ["infrastructure"],
                        "labels": {"team": "db", "env": "prod"},
                    }
                }
            )
        )
    )[0]
    assert route["matchers"] == [
        'severity=~"critical|warning"',
        'category="infrastructure"',
        'env="prod"',
        'team="db"',
    ]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"severity": ["info"]}, ['severity="info"']),
        ({"category": ["application"]}, ['category="application"']),
        (
            {"category": ["infrastructure", "application"]},
            ['category=~"application|infrastructure"'],
        ),
        ({"severity": ["info", "critical", "warning"]}, ['severity=~"critical|info|warning"']),
        ({"labels": {"team": "db"}}, ['team="db"']),
    ],
)
def test_each_match_field_alone(match: dict[str, Any], expected: list[str]) -> None:
    assert customer_routes(am_of(receiver(route={"match": match})))[0]["matchers"] == expected


def test_route_options_as_given() -> None:
    route = customer_routes(
        am_of(
            receiver(
                route={
                    "continue": True,
                    "groupBy": ["alertname", "service"],
                    "groupWait": "0s",
                    "groupInterval": "1m30s",
                    "repeatInterval": "2h",
                    "match": {"severity": ["critical"]},
                }
            )
        )
    )[0]
    assert route == {
        "receiver": "acme/oncall",
        "matchers": ['severity="critical"'],
        "group_by": ["alertname", "service"],
        "group_wait": "0s",
        "group_interval": "1m30s",
        "repeat_interval": "2h",
        "continue": True,
    }


def test_empty_group_by_is_kept() -> None:
    assert customer_routes(am_of(receiver(route={"groupBy": []})))[0]["group_by"] == []


def test_receivers_are_named_customer_slash_receiver_after_platform_default() -> None:
    config = am_of(receiver("globex", "b"), receiver("acme", "z"), receiver("acme", "a"))
    assert [r["name"] for r in config["receivers"]] == [
        "platform-default",
        "acme/a",
        "acme/z",
        "globex/b",
    ]


def test_email_config_carries_the_templates() -> None:
    email = {
        "to": ["ops@acme.example", "sre@acme.example"],
        "subjectTemplate": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
        "htmlTemplate": "<p>{{ .CommonAnnotations.summary }}</p>\n",
        "textTemplate": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
        "sendResolved": True,
    }
    config = am_of(
        receiver(webhook=[], email=[email, {"to": ["boss@acme.example"]}]),
        platform={"alertmanager": {"global": SMTP}},
    )
    assert receiver_config(config, "acme/oncall") == {
        "name": "acme/oncall",
        "email_configs": [
            {
                "to": "ops@acme.example, sre@acme.example",
                "headers": {"Subject": email["subjectTemplate"]},
                "html": email["htmlTemplate"],
                "text": email["textTemplate"],
                "send_resolved": True,
            },
            {"to": "boss@acme.example"},
        ],
    }


def test_slack_config_carries_the_templates_and_a_secret_file() -> None:
    slack = {
        "apiURLSecretRef": {"name": "acme-slack", "key": "webhook-url"},
        "channel": "#acme",
        "titleTemplate": "{{ .CommonLabels.alertname }}",
        "textTemplate": '{{ range .Alerts }}{{ .Annotations.summary }}{{ "\\n" }}{{ end }}',
        "sendResolved": False,
    }
    config = am_of(receiver(webhook=[], slack=[slack]))
    assert receiver_config(config, "acme/oncall")["slack_configs"] == [
        {
            "api_url_file": "/etc/alertplane/secrets/acme/acme-slack/webhook-url",
            "channel": "#acme",
            "title": slack["titleTemplate"],
            "text": slack["textTemplate"],
            "send_resolved": False,
        }
    ]


def test_pagerduty_config_carries_the_templates_and_a_secret_file() -> None:
    pd = {
        "routingKeySecretRef": {"name": "acme-pd", "key": "routing-key"},
        "severity": "critical",
        "description": "[acme] {{ .CommonLabels.alertname }}",
        "sendResolved": True,
    }
    config = am_of(receiver(webhook=[], pagerduty=[pd]))
    assert receiver_config(config, "acme/oncall")["pagerduty_configs"] == [
        {
            "routing_key_file": "/etc/alertplane/secrets/acme/acme-pd/routing-key",
            "severity": "critical",
            "description": pd["description"],
            "send_resolved": True,
        }
    ]


def test_webhook_config() -> None:
    hooks = [{"url": "https://hooks.example/a", "sendResolved": False}, {"url": "http://h/b"}]
    config = am_of(receiver(webhook=hooks))
    assert receiver_config(config, "acme/oncall") == {
        "name": "acme/oncall",
        "webhook_configs": [
            {"url": "https://hooks.example/a", "send_resolved": False},
            {"url": "http://h/b"},
        ],
    }


def test_every_channel_kind_in_one_receiver_in_a_fixed_order() -> None:
    config = am_of(
        receiver(
            pagerduty=[{"routingKey": "k"}],
            slack=[{"apiURL": "https://hooks.example/s"}],
            email=[{"to": ["a@acme.example"]}],
        ),
        platform={"alertmanager": {"global": SMTP}},
    )
    assert list(receiver_config(config, "acme/oncall")) == [
        "name",
        "email_configs",
        "slack_configs",
        "pagerduty_configs",
        "webhook_configs",
    ]


def test_secret_refs_become_file_paths_under_secrets_dir_and_namespace() -> None:
    manifest = receiver(
        webhook=[],
        slack=[{"apiURLSecretRef": {"name": "s", "key": "url"}}],
        pagerduty=[{"routingKeySecretRef": {"name": "p", "key": "key"}}],
    )
    manifest["metadata"]["namespace"] = "tenant-acme"
    config = am_of(manifest, platform={"secretsDir": "/run/secrets/"})
    found = receiver_config(config, "acme/oncall")
    assert found["slack_configs"] == [{"api_url_file": "/run/secrets/tenant-acme/s/url"}]
    assert found["pagerduty_configs"] == [{"routing_key_file": "/run/secrets/tenant-acme/p/key"}]


def test_clear_secret_values_stay_clear() -> None:
    config = am_of(
        receiver(
            webhook=[],
            slack=[{"apiURL": "https://hooks.example/s"}],
            pagerduty=[{"routingKey": "abc123"}],
        )
    )
    found = receiver_config(config, "acme/oncall")
    assert found["slack_configs"] == [{"api_url": "https://hooks.example/s"}]
    assert found["pagerduty_configs"] == [{"routing_key": "abc123"}]


def test_platform_global_is_passed_through() -> None:
    glob = {
        **SMTP,
        "smtp_require_tls": False,
        "resolve_timeout": "5m",
        "http_config": {"follow_redirects": True},
    }
    config = am_of(receiver(), platform={"alertmanager": {"global": glob}})
    assert list(config) == ["global", "route", "receivers"]
    assert config["global"] == glob
    assert list(config["global"]) == list(glob)


def test_platform_default_receiver_body() -> None:
    body = {"webhook_configs": [{"url": "http://platform.example/hook", "send_resolved": True}]}
    config = am_of(receiver(), platform={"alertmanager": {"defaultReceiver": body}})
    assert config["receivers"][0] == {"name": "platform-default", **body}


def test_no_platform_config_means_no_integrations_and_no_defaults() -> None:
    config = am_of(receiver())
    assert config["receivers"][0] == {"name": "platform-default"}
    assert "global" not in config
    assert list(config["route"]) == ["receiver", "routes"]


def test_platform_route_defaults_on_the_root_only() -> None:
    defaults = {
        "group_by": ["customer_id", "alertname"],
        "group_wait": "10s",
        "group_interval": "1m",
        "repeat_interval": "4h",
    }
    config = am_of(receiver(), platform={"alertmanager": {"route": defaults}})
    root = config["route"]
    assert root == {"receiver": "platform-default", **defaults, "routes": root["routes"]}
    assert set(root["routes"][0]) == {"receiver", "matchers", "continue", "routes"}
    assert customer_routes(config) == [{"receiver": "acme/oncall", "continue": False}]


def test_templates_are_inlined_not_written_as_files() -> None:
    rendered = do_render(alert(), receiver())
    assert rendered.templates == {}
    assert "templates" not in yaml.safe_load(rendered.alertmanager)
    assert set(rendered.files()) == {"rules/acme.yml", ALERTMANAGER_PATH}


def test_nothing_renders_to_an_empty_but_valid_config() -> None:
    rendered = render([], PlatformConfig())
    assert rendered.rules == {}
    assert yaml.safe_load(rendered.alertmanager) == {
        "route": {"receiver": "platform-default", "routes": []},
        "receivers": [{"name": "platform-default"}],
    }

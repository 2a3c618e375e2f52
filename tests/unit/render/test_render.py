"""Rendering contract, asserted on the parsed YAML of the rendered files.

Rule files: one group per non-empty category, each rule exactly `alert`, `expr` (as
written), `for`, `keep_firing_for`, labels and annotations as contracted, nothing else.
alertmanager.yml: a platform-default root, one isolated subtree per customer, receiver
routes in (priority, receiverName) order, channel configs with templates and *_file
secrets, platform settings passed through. Rendering is pure and deterministic.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import yaml

from alertplane.render import ALERTMANAGER_PATH, render
from alertplane.render.platform import PlatformConfig
from tests.support.factories import DROP, alert, receiver
from tests.support.render import SMTP, customer_routes, do_render, objects


def rules_of(*manifests: dict[str, Any], customer: str = "acme") -> dict[str, Any]:
    rendered = do_render(*manifests)
    data = yaml.safe_load(rendered.rules[f"rules/{customer}.yml"])
    assert isinstance(data, dict)
    return data


def one_rule(**spec: Any) -> dict[str, Any]:
    groups = rules_of(alert(**spec))["groups"]
    assert len(groups) == 1 and len(groups[0]["rules"]) == 1
    rule: dict[str, Any] = groups[0]["rules"][0]
    return rule


def am_of(*manifests: dict[str, Any], platform: dict[str, Any] | None = None) -> dict[str, Any]:
    data = yaml.safe_load(do_render(*manifests, platform=platform).alertmanager)
    assert isinstance(data, dict)
    return data


def receiver_config(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in config["receivers"] if r["name"] == name]
    assert isinstance(found, dict)
    return found


# -- rules/<customerId>.yml ----------------------------------------------------------


def test_one_file_per_customer_with_its_alerts_only() -> None:
    rendered = do_render(
        alert("acme", "HighErrorRate"), alert("globex", "HighErrorRate"), receiver("initech")
    )
    assert sorted(rendered.rules) == ["rules/acme.yml", "rules/globex.yml"]
    for cid in ("acme", "globex"):
        data = yaml.safe_load(rendered.rules[f"rules/{cid}.yml"])
        rules = [r for g in data["groups"] for r in g["rules"]]
        assert [r["labels"]["customer_id"] for r in rules] == [cid]
        assert [r["expr"] for r in rules] == [f'rate(errors_total{{customer_id="{cid}"}}[5m]) > 1']


def test_one_group_per_non_empty_category_in_a_fixed_order() -> None:
    data = rules_of(
        alert(name="DiskFull", category="infrastructure"),
        alert(name="HighErrorRate", category="application"),
        alert(name="HostDown", category="infrastructure"),
    )
    assert list(data) == ["groups"]
    assert [list(g) for g in data["groups"]] == [["name", "rules"], ["name", "rules"]]
    assert [g["name"] for g in data["groups"]] == ["acme-application", "acme-infrastructure"]
    assert [[r["alert"] for r in g["rules"]] for g in data["groups"]] == [
        ["HighErrorRate"],
        ["DiskFull", "HostDown"],
    ]


@pytest.mark.parametrize("category", ["application", "infrastructure"])
def test_only_one_category_gives_only_its_group(category: str) -> None:
    data = rules_of(alert(name="A", category=category), alert(name="B", category=category))
    assert [g["name"] for g in data["groups"]] == [f"acme-{category}"]


def test_rules_are_sorted_by_alert_name() -> None:
    manifests = [alert(name=n) for n in ["Zeta", "alpha", "Beta", "Alpha"]]
    for i, manifest in enumerate(manifests):
        manifest["metadata"]["name"] = f"acme-{i}"
    data = rules_of(*manifests)
    assert [r["alert"] for r in data["groups"][0]["rules"]] == ["Alpha", "Beta", "Zeta", "alpha"]


def test_rule_has_exactly_the_contracted_keys() -> None:
    rule = one_rule(**{"for": "5m"}, keepFiringFor="10m")
    assert list(rule) == ["alert", "expr", "for", "keep_firing_for", "labels", "annotations"]
    assert rule["for"] == "5m" and rule["keep_firing_for"] == "10m"


def test_optional_rule_keys_are_left_out_when_not_set() -> None:
    rule = one_rule(annotations=DROP)
    assert list(rule) == ["alert", "expr", "labels"]


@pytest.mark.parametrize(
    "expr",
    [
        'up{customer_id="acme"} == 0',
        'up{customer_id="acme",job="a: b #c"}   ==   0',
        'sum by (job) (rate(errors_total{customer_id="acme", code=~"5.."}[5m])) > 0.10',
        '(\n  up{customer_id="acme"} == 0\n)\n',
        'up{customer_id="acme"}\n  == 0',
        '# why: the exporter reports 0 when unreachable\nup{customer_id="acme"} == 0\n',
        'absent(up{customer_id="acme", job="\\"quoted\\""})',
        "up{customer_id='acme'} > bool 0",
    ],
)
def test_expr_is_rendered_exactly_as_written(expr: str) -> None:
    assert one_rule(expr=expr)["expr"] == expr


def test_labels_are_exactly_the_reserved_ones_plus_spec_labels() -> None:
    rule = one_rule(
        severity="warning", urgency="low", labels={"team": "checkout", "tier": "1", "on": "yes"}
    )
    assert rule["labels"] == {
        "customer_id": "acme",
        "severity": "warning",
        "category": "application",
        "urgency": "low",
        "team": "checkout",
        "tier": "1",
        "on": "yes",
    }


def test_urgency_label_only_when_set() -> None:
    assert one_rule(category="infrastructure", severity="info")["labels"] == {
        "customer_id": "acme",
        "severity": "info",
        "category": "infrastructure",
    }


def test_annotations_are_exactly_the_spec_annotations_with_runbook_url() -> None:
    annotations = {
        "summary": "{{ $labels.service }} fails",
        "description": "Line one.\nLine two: {{ $value }}\n",
        "impact": "Shoppers cannot pay.",
        "action": "Roll back.",
        "runbookUrl": "https://runbooks.example/errors",
        "dashboard": "https://grafana.example/d/1",
        "on": "off",
    }
    rule = one_rule(annotations=annotations)
    expected = {k: v for k, v in annotations.items() if k != "runbookUrl"}
    expected["runbook_url"] = "https://runbooks.example/errors"
    assert rule["annotations"] == expected


def test_disabled_alerts_are_not_rendered() -> None:
    data = rules_of(
        alert(name="Enabled"),
        alert(name="Disabled", enabled=False),
        alert(name="DisabledInfra", enabled=False, category="infrastructure"),
    )
    assert [[r["alert"] for r in g["rules"]] for g in data["groups"]] == [["Enabled"]]


def test_a_customer_with_only_disabled_alerts_gets_no_rule_file_but_keeps_its_route() -> None:
    rendered = do_render(alert("dormant", "A", enabled=False), alert("acme", "B"))
    assert list(rendered.rules) == ["rules/acme.yml"]
    config = yaml.safe_load(rendered.alertmanager)
    customers = [r["matchers"] for r in config["route"]["routes"]]
    assert customers == [['customer_id="acme"'], ['customer_id="dormant"']]


def test_rule_files_start_with_the_generated_header() -> None:
    text = do_render(alert()).rules["rules/acme.yml"]
    assert text.startswith("# Generated by alertplane; do not edit:")
    assert "# customer: acme\n" in text


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


# -- purity and determinism ----------------------------------------------------------


def _mixed_customers() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cid in ("acme", "globex", "initech"):
        out += [
            alert(cid, "HighErrorRate", labels={"team": "a", "svc": "b"}),
            alert(
                cid, "HostDown", category="infrastructure", expr=f'up{{customer_id="{cid}"}} == 0'
            ),
            alert(cid, "Quiet", enabled=False),
            receiver(cid, "oncall", route={"priority": 1, "match": {"severity": ["critical"]}}),
            receiver(cid, "team", route={"match": {"labels": {"team": "a", "env": "p"}}}),
            receiver(cid, "all", slack=[{"apiURLSecretRef": {"name": "s", "key": "k"}}]),
        ]
    return out


PLATFORM = {
    "alertmanager": {
        "global": SMTP,
        "defaultReceiver": {"webhook_configs": [{"url": "http://platform.example/"}]},
        "route": {"group_by": ["customer_id"]},
    }
}


def test_rendering_is_byte_identical_for_the_same_input() -> None:
    first = do_render(*_mixed_customers(), platform=PLATFORM).files()
    again = do_render(*_mixed_customers(), platform=PLATFORM).files()
    assert first == again
    assert set(first) == {
        "rules/acme.yml",
        "rules/globex.yml",
        "rules/initech.yml",
        ALERTMANAGER_PATH,
    }


@pytest.mark.parametrize("seed", range(8))
def test_rendering_does_not_depend_on_input_order(seed: int) -> None:
    manifests = _mixed_customers()
    expected = do_render(*manifests, platform=PLATFORM).files()
    shuffled = manifests[:]
    random.Random(seed).shuffle(shuffled)
    assert do_render(*shuffled, platform=PLATFORM).files() == expected


def test_rendering_does_not_depend_on_mapping_order_inside_specs() -> None:
    manifests = _mixed_customers()
    expected = do_render(*manifests, platform=PLATFORM).files()

    def reverse_dicts(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_dicts(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_dicts(v) for v in value]
        return value

    assert do_render(*map(reverse_dicts, manifests), platform=PLATFORM).files() == expected


def test_rendering_does_not_change_its_input() -> None:
    objs = objects(*_mixed_customers())
    before = [copy.deepcopy(o.model_dump()) for o in objs]
    platform = PlatformConfig.model_validate(PLATFORM)
    platform_before = platform.model_dump()
    render(objs, platform)
    render(objs, platform)
    assert [o.model_dump() for o in objs] == before
    assert platform.model_dump() == platform_before

"""What prometheus-operator v0.85.0 generated vs what the sink wrote (sinks/promop_match.py),
on the shapes the real PO produced (captured from tests/e2e/test_promop_liveness.py's run):
spelling never differs, content always does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from alertplane.sinks.promop_match import (
    GeneratedRoutes,
    customer_part_matches,
    expected_route,
    normal_route,
    parse_matcher,
    rule_file_key,
    rule_file_matches,
)

# The PrometheusRule spec the sink wrote, and the file PO generated from it.
SPEC: dict[str, Any] = {
    "groups": [
        {
            "name": "fine-co-application",
            "rules": [
                {
                    "alert": "HighErrorRate",
                    "annotations": {"summary": "{{ $labels.service }} fails"},
                    "expr": 'rate(errors_total{customer_id="fine-co"}[5m]) > 1',
                    "for": "5m",
                    "labels": {
                        "category": "application",
                        "customer_id": "fine-co",
                        "severity": "critical",
                    },
                }
            ],
        }
    ]
}
GENERATED_RULES = """groups:
- name: fine-co-application
  rules:
  - alert: HighErrorRate
    annotations:
      summary: '{{ $labels.service }} fails'
    expr: rate(errors_total{customer_id="fine-co"}[5m]) > 1
    for: 5m
    labels:
      category: application
      customer_id: fine-co
      severity: critical
"""

# The AlertmanagerConfig spec the sink wrote, and PO's merged configuration.
PREFIX = "monitoring/alertplane-fine-co/"
AMC: dict[str, Any] = {
    "receivers": [
        {"name": "platform_default"},
        {"name": "oncall", "webhookConfigs": [{"url": "http://127.0.0.1:9097/fine-co/oncall"}]},
    ],
    "route": {
        "matchers": [{"matchType": "=", "name": "customer_id", "value": "fine-co"}],
        "receiver": "platform_default",
        "groupBy": ["alertname", "customer_id"],
        "groupWait": "30s",
        "routes": [
            {
                "receiver": "oncall",
                "matchers": [{"matchType": "=~", "name": "severity", "value": "critical|warning"}],
                "continue": False,
            }
        ],
    },
}
GENERATED_AM = """route:
  receiver: monitoring/alertplane.platform/platform-default
  routes:
  - receiver: monitoring/alertplane-fine-co/platform_default
    group_by:
    - alertname
    - customer_id
    group_wait: 30s
    matchers:
    - customer_id="fine-co"
    continue: true
    routes:
    - receiver: monitoring/alertplane-fine-co/oncall
      matchers:
      - severity=~"critical|warning"
  - receiver: monitoring/alertplane-live-co/platform_default
    matchers:
    - customer_id="live-co"
    continue: true
receivers:
- name: monitoring/alertplane.platform/platform-default
- name: monitoring/alertplane-fine-co/platform_default
- name: monitoring/alertplane-fine-co/oncall
  webhook_configs:
  - url: http://127.0.0.1:9097/fine-co/oncall
- name: monitoring/alertplane-live-co/platform_default
templates: []
"""


def generated() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(GENERATED_AM)
    return loaded


def test_the_generated_rule_file_matches_what_was_written() -> None:
    assert rule_file_matches(GENERATED_RULES, SPEC)
    # Spelling is not content: quoting, key order, PO dropping Thanos' field.
    ours = copy.deepcopy(SPEC)
    ours["groups"][0]["partial_response_strategy"] = "warn"
    ours["groups"][0]["rules"][0]["annotations"] = {"summary": "{{ $labels.service }} fails"}
    assert rule_file_matches(GENERATED_RULES.replace("for: 5m", "for: '5m'"), ours)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["groups"][0]["rules"][0].update(expr="up == 0"),
        lambda s: s["groups"][0]["rules"][0].update({"for": "10m"}),
        lambda s: s["groups"][0]["rules"][0]["labels"].update(severity="warning"),
        lambda s: s["groups"].append({"name": "more", "rules": [{"alert": "X", "expr": "1"}]}),
    ],
    ids=["expr", "for", "label", "group"],
)
def test_a_rule_file_of_another_version_does_not_match(change: Any) -> None:
    ours = copy.deepcopy(SPEC)
    change(ours)
    assert not rule_file_matches(GENERATED_RULES, ours)


def test_no_file_or_garbage_does_not_match() -> None:
    assert not rule_file_matches("", SPEC)
    assert not rule_file_matches("groups: [", SPEC)


def test_rule_file_key_is_prometheus_operators() -> None:
    assert rule_file_key("monitoring", "alertplane-acme", "a0bc") == (
        "monitoring-alertplane-acme-a0bc.yaml"
    )


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('customer_id="acme"', ("customer_id", "=", "acme")),
        ('severity=~"critical|warning"', ("severity", "=~", "critical|warning")),
        ('team!="a \\"quoted\\" name"', ("team", "!=", 'a "quoted" name')),
        ("env!~prod", ("env", "!~", "prod")),
        ('x = "y"', ("x", "=", "y")),
        ("no operator", None),
        ('x="unterminated', None),
    ],
)
def test_parse_matcher(text: str, parsed: tuple[str, str, str] | None) -> None:
    assert parse_matcher(text) == parsed


def test_the_customer_part_of_the_generated_config_matches_what_was_written() -> None:
    assert customer_part_matches(GeneratedRoutes.of(generated()), AMC, PREFIX) is None


def test_the_top_route_is_compared_with_continue_forced_and_names_prefixed() -> None:
    want = expected_route(AMC["route"], PREFIX)
    assert want["continue"] is True and want["receiver"] == PREFIX + "platform_default"
    assert want["routes"][0]["continue"] is False
    assert normal_route(generated()["route"]["routes"][0]) == want


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: s["route"].update(groupWait="1m"), "its route differs"),
        (lambda s: s["route"]["routes"][0].update(receiver="pager"), "its route differs"),
        (lambda s: s["route"]["routes"][0].update({"continue": True}), "its route differs"),
        (lambda s: s["route"]["matchers"][0].update(value="acme"), "its route differs"),
        (lambda s: s["receivers"].append({"name": "pager"}), f"no receiver {PREFIX}pager"),
        (
            lambda s: s["receivers"][1]["webhookConfigs"].append({"url": "http://x/"}),
            f"receiver {PREFIX}oncall differs",
        ),
    ],
    ids=["timer", "child-receiver", "child-continue", "matcher", "receiver", "integration"],
)
def test_a_different_customer_part_does_not_match(change: Any, why: str) -> None:
    ours = copy.deepcopy(AMC)
    change(ours)
    assert customer_part_matches(GeneratedRoutes.of(generated()), ours, PREFIX) == why


def test_a_customer_missing_from_the_generated_config() -> None:
    assert (
        customer_part_matches(GeneratedRoutes.of(generated()), AMC, "monitoring/alertplane-acme/")
        == "no route"
    )
    assert customer_part_matches(GeneratedRoutes.of({}), AMC, PREFIX) == "no route"


def test_legacy_match_maps_are_matchers() -> None:
    """PO writes match/match_re for an Alertmanager older than 0.22."""
    legacy = generated()
    top = legacy["route"]["routes"][0]
    top["match"] = {"customer_id": "fine-co"}
    del top["matchers"]
    top["routes"][0]["match_re"] = {"severity": "critical|warning"}
    del top["routes"][0]["matchers"]
    assert customer_part_matches(GeneratedRoutes.of(legacy), AMC, PREFIX) is None

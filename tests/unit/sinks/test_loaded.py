"""The comparison of what Prometheus and Alertmanager loaded with what was written
(sinks/loaded.py, pure): what each target re-prints its own way is the same, every real
change is a difference, and the difference is named exactly."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.render.yamlout import dump
from alertplane.sinks.loaded import (
    Stale,
    covers,
    loaded_rule_files,
    routes_stale,
    routing,
    rules_stale,
    same_query,
    squeeze,
)
from tests.support.loaded_api import api_groups

RULES = """\
groups:
- name: acme-application
  rules:
  - alert: HighErrorRate
    expr: |
      sum(rate(errors_total{customer_id="acme", code=~"5.."}[5m])) by (service)  # per service
        > 0.10
    for: 90s
    labels: {customer_id: acme, severity: critical}
    annotations: {summary: "{{ $labels.service }} fails"}
  - alert: TargetDown
    expr: up{customer_id="acme"} == 0
    labels: {customer_id: acme, severity: warning}
"""
# Prometheus 2.42's print of the first query (its rules API; tests/integration asks it).
PRINTED = {
    'sum(rate(errors_total{customer_id="acme", code=~"5.."}[5m])) by (service)  # per service\n'
    "  > 0.10\n": 'sum by (service) (rate(errors_total{code=~"5..",customer_id="acme"}[5m])) > 0.1'
}
FILE = "/etc/prometheus/rules/..2026_12_07/acme.yml"


def _loaded(text: str | None, **printed: str) -> dict[str, Any]:
    return loaded_rule_files(api_groups(text, FILE, PRINTED))


def test_prometheus_reprint_of_the_written_rules_is_the_same() -> None:
    assert rules_stale("acme", RULES, _loaded(RULES)) is None


def test_squeeze_drops_whitespace_and_comments_but_not_inside_strings() -> None:
    assert squeeze('a{x="1  2"}  # c\n + b') == 'a{x="1  2"}+b'
    assert squeeze("a{x='#'} or b") == "a{x='#'}orb"
    assert not same_query('up{x="a b"}', 'up{x="ab"}')


def test_a_query_printed_otherwise_is_compared_through_the_canonical_form() -> None:
    assert same_query("sum(x) by (a) > 0.10", "sum by (a) (x) > 0.1")
    assert not same_query("sum(x) by (a) > 0.10", "sum by (a) (x) > 0.2")
    remote = {"holt_winters(x[5m], 0.1, 0.2)": "holt_winters(x[5m], 0.1, 0.2)"}
    assert same_query("holt_winters(x[5m],0.1,0.2)", "holt_winters(x[5m], 0.1, 0.2)")
    assert same_query("  holt_winters( x[5m] , 0.1, 0.2)", "holt_winters(x[5m], 0.1, 0.2)")
    assert not same_query("bad((", "bad", canonicals=(remote.get,))


@pytest.mark.parametrize(
    ("old", "new", "detail"),
    [
        ("> 0.10", "> 0.2", "group acme-application: rule HighErrorRate: the query differs"),
        ("for: 90s", "for: 2m", "group acme-application: rule HighErrorRate: for differs"),
        ("severity: warning", "severity: info", "group acme-application: rule TargetDown: "
         "the labels differ"),
        ("fails", "fails!", "group acme-application: rule HighErrorRate: the annotations differ"),
        ("  - alert: TargetDown", "  - alert: Down", "group acme-application: the loaded rules "
         "are HighErrorRate, TargetDown"),
        ("name: acme-application", "name: acme-infrastructure", "the loaded groups are "
         "acme-application"),
        ("    labels: {customer_id: acme, severity: warning}\n", "    labels: {customer_id: "
         "acme, severity: warning}\n    keep_firing_for: 5m\n", "group acme-application: rule "
         "TargetDown: keep_firing_for differs"),
    ],
)  # fmt: skip
def test_every_change_is_a_named_difference(old: str, new: str, detail: str) -> None:
    written = RULES.replace(old, new)
    assert written != RULES
    assert rules_stale("acme", written, _loaded(RULES)) == Stale(True, detail)


def test_rules_not_loaded_yet_or_still_loaded_after_removal() -> None:
    assert rules_stale("acme", RULES, _loaded(None)) == Stale(
        False, "no rule file acme.yml is loaded"
    )
    assert rules_stale("acme", None, _loaded(RULES)) == Stale(
        True, "acme.yml is removed, but its rules are still loaded"
    )
    assert rules_stale("acme", None, _loaded(None)) is None
    # Another customer's file, or one whose name only ends alike, is not this customer's.
    other = loaded_rule_files(api_groups(RULES, "/rules/beta-acme.yml"))
    assert rules_stale("acme", None, other) is None


def test_a_group_interval_is_compared_only_when_written() -> None:
    written = RULES.replace(
        "- name: acme-application\n", "- name: acme-application\n  interval: 1m\n"
    )
    assert rules_stale("acme", written, _loaded(RULES)) is None  # the API said 60 s
    assert rules_stale("acme", written.replace("1m", "30s"), _loaded(RULES)) == Stale(
        True, "group acme-application: the interval differs"
    )


# -- Alertmanager ------------------------------------------------------------------------------
# Alertmanager 0.25's print of a route and receivers it loaded: defaults added, matchers
# sorted, durations its own way, secrets hidden (tests/integration asks the real one).
WRITTEN_AM = {
    "route": {
        "receiver": "platform-default",
        "routes": [
            {
                "receiver": "platform-default",
                "matchers": ['customer_id="acme"'],
                "continue": False,
                "routes": [
                    {
                        "receiver": "acme/oncall",
                        "matchers": ['severity=~"critical|warning"', "team=checkout"],
                        "group_by": ["alertname", "service"],
                        "group_wait": "90s",
                        "continue": False,
                    }
                ],
            }
        ],
    },
    "receivers": [
        {"name": "platform-default", "webhook_configs": [{"url": "http://platform/"}]},
        {
            "name": "acme/oncall",
            "slack_configs": [{"api_url": "https://hooks/T1", "channel": "#acme"}],
            "email_configs": [],
        },
    ],
}
LOADED_AM = {
    "global": {"resolve_timeout": "5m"},
    "route": {
        "receiver": "platform-default",
        "continue": False,
        "routes": [
            {
                "receiver": "platform-default",
                "matchers": ['customer_id="acme"'],
                "continue": False,
                "routes": [
                    {
                        "receiver": "acme/oncall",
                        "group_by": ["service", "alertname"],
                        "matchers": ['severity=~"critical|warning"', 'team="checkout"'],
                        "continue": False,
                        "group_wait": "1m30s",
                    }
                ],
            }
        ],
    },
    "receivers": [
        {"name": "platform-default", "webhook_configs": [{"url": "http://platform/"}]},
        {
            "name": "acme/oncall",
            "slack_configs": [
                {"send_resolved": False, "api_url": "<secret>", "channel": "#acme", "text": "x"}
            ],
        },
    ],
}


def _changed(path: list[Any], value: Any) -> str:
    import copy

    data = copy.deepcopy(LOADED_AM)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return dump(data)


def test_alertmanager_reprint_of_the_written_routes_is_the_same() -> None:
    assert routes_stale("acme", routing(dump(WRITTEN_AM)), routing(dump(LOADED_AM))) is None
    assert routes_stale("beta", routing(dump(WRITTEN_AM)), routing(dump(LOADED_AM))) is None


ACME = ["route", "routes", 0]
ONCALL = [*ACME, "routes", 0]


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ([*ONCALL, "group_wait"], "1m", "route.routes[0].group_wait differs"),
        ([*ONCALL, "matchers"], ['team="checkout"'], "route.routes[0].matchers differs"),
        ([*ONCALL, "group_by"], ["service"], "route.routes[0].group_by differs"),
        ([*ONCALL, "continue"], True, "route.routes[0].continue differs"),
        ([*ACME, "routes"], [], "route.routes differs"),
        ([*ACME, "receiver"], "x", "route.receiver differs"),
        (["receivers", 1, "slack_configs", 0, "channel"], "#a", "receiver acme/oncall."
         "slack_configs[0].channel differs"),
        (["receivers", 1, "webhook_configs"], [{"url": "u"}], "receiver acme/oncall."
         "webhook_configs is still loaded"),
        (["receivers", 1, "name"], "acme/other", "receiver acme/oncall is not loaded"),
    ],
)  # fmt: skip
def test_every_route_or_receiver_change_is_a_named_difference(
    path: list[Any], value: Any, detail: str
) -> None:
    loaded = routing(_changed(path, value))
    assert routes_stale("acme", routing(dump(WRITTEN_AM)), loaded) == Stale(True, detail)


def test_a_route_not_loaded_yet_or_still_loaded_after_removal() -> None:
    written, loaded = routing(dump(WRITTEN_AM)), routing(dump(LOADED_AM))
    nothing = routing(dump({"route": {"receiver": "x"}, "receivers": [{"name": "x"}]}))
    assert routes_stale("acme", written, nothing) == Stale(
        False, 'no route for customer_id="acme" is loaded'
    )
    assert routes_stale("acme", nothing, loaded) == Stale(
        True, "its route is removed, but still loaded"
    )
    assert routing(None) == routing("") == routing("- not a mapping")


def test_covers_lets_defaults_and_secrets_through_but_no_change() -> None:
    assert covers({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2], "c": 3}, "x") == ""
    assert covers({"a": "s3cr3t"}, {"a": "<secret>"}, "x") == ""
    assert covers({"a": False, "b": [], "c": ""}, {}, "x") == ""  # zero values not printed
    assert covers({"a": 1}, {}, "x") == "x.a differs"
    assert covers({"a": [1]}, {"a": [1, 2]}, "x") == "x.a differs"
    assert covers({"a": "5m"}, {"a": "300s"}, "x") == ""
    assert covers({"a": "5m"}, {"a": "5"}, "x") == "x.a differs"
    assert covers({"a": {"b": 1}}, {"a": "b"}, "x") == "x.a differs"


def test_the_rendered_configuration_is_its_own_loaded_part() -> None:
    from alertplane.model import CustomerReceiver
    from tests.support.factories import receiver

    spec = CustomerReceiver.model_validate(receiver("acme")).spec
    text = render_alertmanager({"acme": [("acme", spec)], "beta": []}, PlatformConfig())
    for cid in ("acme", "beta"):
        assert routes_stale(cid, routing(text), routing(text)) is None
    assert routes_stale("acme", routing(text), routing(text.replace("acme", "acme2"))) == Stale(
        False, 'no route for customer_id="acme" is loaded'
    )

"""Inhibit rules and time intervals rendered scoped to their customer (render/am_primitives.py):
alertmanager.yml (files/ConfigMap), a Mimir tenant's configuration, and prometheus-operator's
AlertmanagerConfig. Exact values: the scoping is the point, so every matcher is spelled out."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.model import CustomerReceiver, CustomerReceiverSpec
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.mimir import tenant_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import alertmanager_config, secrets_platform, unsupported
from alertplane.validate import parse_document
from tests.support.factories import receiver

RULE = {
    "sourceMatch": [{"name": "severity", "value": "critical"}],
    "targetMatch": [{"name": "severity", "value": "warning|info", "matchType": "=~"}],
    "equal": ["service", "customer_id"],
}
BIZ = {
    "name": "biz",
    "timeIntervals": [
        {
            "times": [{"startTime": "09:00", "endTime": "17:00"}],
            "weekdays": ["monday:friday"],
            "daysOfMonth": ["1:7", "-1"],
            "location": "Europe/Berlin",
        }
    ],
}


def _spec(customer: str, name: str = "oncall", **fields: Any) -> CustomerReceiverSpec:
    obj, problems = parse_document(receiver(customer, name, **fields))
    assert isinstance(obj, CustomerReceiver), problems
    return obj.spec


def _both() -> dict[str, list[tuple[str, CustomerReceiverSpec]]]:
    """acme and globex declare the very same rule and interval names."""
    fields: dict[str, Any] = {
        "inhibitRules": [RULE],
        "timeIntervals": [BIZ],
        "route": {"muteTimeIntervals": ["biz"]},
    }
    return {c: [(c, _spec(c, **fields))] for c in ("acme", "globex")}


def test_alertmanager_yml_scopes_inhibit_rules_and_intervals_per_customer() -> None:
    config = yaml.safe_load(render_alertmanager(_both(), PlatformConfig()))
    assert config["inhibit_rules"] == [
        {
            "source_matchers": [f'customer_id="{c}"', 'severity="critical"'],
            "target_matchers": [f'customer_id="{c}"', 'severity=~"warning|info"'],
            "equal": ["customer_id", "service"],
        }
        for c in ("acme", "globex")
    ]
    period = {
        "times": [{"start_time": "09:00", "end_time": "17:00"}],
        "weekdays": ["monday:friday"],
        "days_of_month": ["1:7", "-1"],
        "location": "Europe/Berlin",
    }
    assert config["time_intervals"] == [
        {"name": "acme/oncall/biz", "time_intervals": [period]},
        {"name": "globex/oncall/biz", "time_intervals": [period]},
    ]
    for subtree in config["route"]["routes"]:
        cid = subtree["matchers"][0].split('"')[1]
        (route,) = subtree["routes"]
        assert route["mute_time_intervals"] == [f"{cid}/oncall/biz"]
        assert "active_time_intervals" not in route


def test_no_primitives_no_keys() -> None:
    text = render_alertmanager({"acme": [("acme", _spec("acme"))]}, PlatformConfig())
    config = yaml.safe_load(text)
    assert "inhibit_rules" not in config and "time_intervals" not in config


def test_matcher_values_are_escaped_not_parsed() -> None:
    rule = {**RULE, "sourceMatch": [{"name": "a", "value": 'x", customer_id=~".*'}]}
    spec = _spec("acme", inhibitRules=[rule])
    config = yaml.safe_load(render_alertmanager({"acme": [("acme", spec)]}, PlatformConfig()))
    assert config["inhibit_rules"][0]["source_matchers"] == [
        'customer_id="acme"',
        'a="x\\", customer_id=~\\".*"',
    ]


def test_active_intervals_render_by_their_scoped_names() -> None:
    spec = _spec("acme", "pager", timeIntervals=[BIZ], route={"activeTimeIntervals": ["biz"]})
    config = yaml.safe_load(render_alertmanager({"acme": [("acme", spec)]}, PlatformConfig()))
    (route,) = config["route"]["routes"][0]["routes"]
    assert route["active_time_intervals"] == ["acme/pager/biz"]


def test_mimir_tenant_config_carries_only_its_customer() -> None:
    receivers = _both()["acme"]
    tenant = tenant_alertmanager("acme", receivers, PlatformConfig(), lambda *_: None)
    config = yaml.safe_load(tenant.config)
    assert [r["source_matchers"][0] for r in config["inhibit_rules"]] == ['customer_id="acme"']
    assert [t["name"] for t in config["time_intervals"]] == ["acme/oncall/biz"]


def test_alertmanager_config_maps_rules_and_intervals() -> None:
    utc = {**BIZ, "timeIntervals": [{**BIZ["timeIntervals"][0], "location": "UTC"}]}
    spec = _spec(
        "acme",
        inhibitRules=[RULE],
        timeIntervals=[utc],
        route={"muteTimeIntervals": ["biz"], "activeTimeIntervals": ["biz"]},
    )
    out, _ = alertmanager_config("acme", [("acme", spec)], secrets_platform(PlatformConfig()))
    assert out["inhibitRules"] == [
        {
            "sourceMatch": [
                {"name": "customer_id", "value": "acme", "matchType": "="},
                {"name": "severity", "value": "critical", "matchType": "="},
            ],
            "targetMatch": [
                {"name": "customer_id", "value": "acme", "matchType": "="},
                {"name": "severity", "value": "warning|info", "matchType": "=~"},
            ],
            "equal": ["customer_id", "service"],
        }
    ]
    assert out["muteTimeIntervals"] == [
        {
            "name": "oncall/biz",
            "timeIntervals": [
                {
                    "times": [{"startTime": "09:00", "endTime": "17:00"}],
                    "weekdays": ["monday:friday"],
                    "daysOfMonth": [{"start": 1, "end": 7}, {"start": -1, "end": -1}],
                }
            ],
        }
    ]
    (route,) = out["route"]["routes"]
    assert route["muteTimeIntervals"] == ["oncall/biz"]
    assert route["activeTimeIntervals"] == ["oncall/biz"]
    assert unsupported(spec) == []


def test_alertmanager_config_refuses_a_zone_it_cannot_carry() -> None:
    spec = _spec("acme", timeIntervals=[BIZ])
    assert [str(p) for p in unsupported(spec)] == [
        "spec.timeIntervals[0].timeIntervals[0].location: the prometheus-operator sink cannot "
        "apply time zone 'Europe/Berlin': AlertmanagerConfig v1alpha1 has no location (its "
        "times are UTC); write the times in UTC and leave location unset"
    ]

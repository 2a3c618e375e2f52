"""What a customer token can do to another customer with inhibit rules and time intervals,
through the REST API (the door every other door shares admission with): nothing. A matcher
on customer_id (any operator), a name of another customer's interval, a zone that reads the
host's files or time: refused with the field; what is accepted renders with the declaring
customer on both sides of every rule, and two customers' identical names stay apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.api_env import ACME, GLOBEX, ApiEnv, api_env, receiver_spec

RECEIVERS = "/customers/{}/receivers"
TARGET = [{"name": "alertname", "value": ".*", "matchType": "=~"}]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as env:
        yield env


def _problems(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return [(p["path"], p["message"]) for p in r.json()["problems"]]


@pytest.mark.parametrize("op", ["=", "!=", "=~", "!~"])
@pytest.mark.parametrize("side", ["sourceMatch", "targetMatch"])
def test_no_matcher_on_customer_id(api: ApiEnv, op: str, side: str) -> None:
    rule: dict[str, Any] = {"sourceMatch": TARGET, "targetMatch": TARGET}
    rule[side] = [*TARGET, {"name": "customer_id", "value": "globex", "matchType": op}]
    r = api.client.post(
        RECEIVERS.format("acme"), json=receiver_spec(inhibitRules=[rule]), headers=ACME
    )
    assert _problems(r) == [
        (
            f"spec.inhibitRules[0].{side}[1].name",
            "inhibit rules are already limited to this customer",
        )
    ]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("Local", "'Local' is the Alertmanager host's own time zone, which no customer knows"),
        # tz databases carry `localtime`, a link to the host's /etc/localtime: 'Local' again
        (
            "localtime",
            "'localtime' is the Alertmanager host's own time zone, which no customer knows",
        ),
        ("../../../etc/localtime", "'../../../etc/localtime' is not a time zone name"),
        ("/etc/localtime", "'/etc/localtime' is not a time zone name"),
        ("Europe/Berlin/../../x", "'Europe/Berlin/../../x' is not a time zone name"),
        ("Nowhere/City", "unknown time zone 'Nowhere/City'"),
    ],
)
def test_zones_that_read_the_host(api: ApiEnv, location: str, message: str) -> None:
    intervals = [{"name": "x", "timeIntervals": [{"location": location}]}]
    r = api.client.post(
        RECEIVERS.format("acme"), json=receiver_spec(timeIntervals=intervals), headers=ACME
    )
    assert _problems(r) == [("spec.timeIntervals[0].timeIntervals[0].location", message)]


@pytest.mark.parametrize("name", ["globex/oncall/biz", "biz", "../biz"])
def test_a_route_names_its_own_receivers_intervals_only(api: ApiEnv, name: str) -> None:
    biz = [{"name": "biz", "timeIntervals": [{}]}]
    assert (
        api.client.post(
            RECEIVERS.format("globex"), json=receiver_spec(timeIntervals=biz), headers=GLOBEX
        ).status_code
        == 201
    )
    spec = receiver_spec("pager", route={"muteTimeIntervals": [name]})
    r = api.client.post(RECEIVERS.format("acme"), json=spec, headers=ACME)
    assert _problems(r) == [("spec.route.muteTimeIntervals[0]", f"unknown time interval {name!r}")]
    # Nor through /routing, which sets routes only.
    assert (
        api.client.post(
            RECEIVERS.format("acme"), json=receiver_spec("pager"), headers=ACME
        ).status_code
        == 201
    )
    r = api.client.post(
        "/customers/acme/routing",
        json={"routes": {"pager": {"muteTimeIntervals": [name]}}},
        headers=ACME,
    )
    assert _problems(r) == [("spec.route.muteTimeIntervals[0]", f"unknown time interval {name!r}")]


@pytest.mark.parametrize("name", ["a/b", "UPPER", "x" * 64, ""])
def test_interval_names_cannot_spell_a_scoped_name(api: ApiEnv, name: str) -> None:
    intervals = [{"name": name, "timeIntervals": [{}]}]
    r = api.client.post(
        RECEIVERS.format("acme"), json=receiver_spec(timeIntervals=intervals), headers=ACME
    )
    assert [p for p, _ in _problems(r)] == ["spec.timeIntervals[0].name"]


def test_limits(api: ApiEnv) -> None:
    rule = {"sourceMatch": TARGET, "targetMatch": TARGET}
    r = api.client.post(
        RECEIVERS.format("acme"), json=receiver_spec(inhibitRules=[rule] * 17), headers=ACME
    )
    assert _problems(r) == [("spec.inhibitRules", "too many items (17): at most 16")]
    periods = [{"weekdays": ["monday"] * 17}]
    r = api.client.post(
        RECEIVERS.format("acme"),
        json=receiver_spec(timeIntervals=[{"name": "x", "timeIntervals": periods}]),
        headers=ACME,
    )
    assert _problems(r) == [
        ("spec.timeIntervals[0].timeIntervals[0].weekdays", "too many items (17): at most 16")
    ]


def test_widest_accepted_rules_stay_with_their_customer(api: ApiEnv) -> None:
    """The widest rule a customer can write (every alert inhibits every alert, no equal) and
    the same interval name in two customers: rendered scoped, and the reconciler's output is
    what amtool accepted (Synced)."""
    rule = {
        "sourceMatch": TARGET,
        "targetMatch": [{"name": "severity", "value": "", "matchType": "!="}],
    }
    biz = [{"name": "biz", "timeIntervals": [{}]}]
    for cid, headers in (("acme", ACME), ("globex", GLOBEX)):
        spec = receiver_spec(
            inhibitRules=[rule], timeIntervals=biz, route={"muteTimeIntervals": ["biz"]}
        )
        r = api.client.post(f"{RECEIVERS.format(cid)}?wait=true", json=spec, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["status"]["phase"] == "Synced", r.json()["status"]
    config = yaml.safe_load((api.out / "alertmanager.yml").read_text())
    assert [
        (r["source_matchers"][0], r["target_matchers"][0], r["equal"])
        for r in config["inhibit_rules"]
    ] == [
        ('customer_id="acme"', 'customer_id="acme"', ["customer_id"]),
        ('customer_id="globex"', 'customer_id="globex"', ["customer_id"]),
    ]
    assert [t["name"] for t in config["time_intervals"]] == ["acme/oncall/biz", "globex/oncall/biz"]
    for subtree in config["route"]["routes"]:
        cid = subtree["matchers"][0].split('"')[1]
        assert [r["mute_time_intervals"] for r in subtree["routes"]] == [[f"{cid}/oncall/biz"]]

"""The warning/critical pair idiom through the REST API (SQLite and PostgreSQL): two alerts
of one customer may share an alertName iff their severities differ. `?severity=` picks one
alert of a pair; without it a pair answers 409 naming each severity's path; a unique name
answers with or without it (and checks it). Every answer's exact words are pinned here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, alert_spec, api_env
from tests.support.waiting import eventually


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


BASE = "/customers/acme/alerts"
NAME = "NodeFilesystemSpaceFillingUp"
ONE = f"{BASE}/{NAME}"
AMBIGUOUS = {
    "detail": f"alert {NAME!r} is a pair: customer 'acme' has it at severities warning, "
    "critical; choose one with ?severity=<severity>",
    "problems": [
        {
            "path": "severity",
            "message": f"'warning': {ONE}?severity=warning",
            "hint": "add ?severity=warning",
            "text": f"severity: 'warning': {ONE}?severity=warning; add ?severity=warning",
        },
        {
            "path": "severity",
            "message": f"'critical': {ONE}?severity=critical",
            "hint": "add ?severity=critical",
            "text": f"severity: 'critical': {ONE}?severity=critical; add ?severity=critical",
        },
    ],
}


def _pair(api: ApiEnv) -> None:
    c = api.client
    r = c.post(BASE, json=alert_spec(NAME, severity="warning"), headers=ACME)
    assert r.status_code == 201, r.text
    # A unique name's Location has no severity; the second of a pair's has.
    assert r.headers["location"] == ONE
    assert r.json()["metadata"]["name"] == "acme-nodefilesystemspacefillingup"
    r = c.post(BASE, json=alert_spec(NAME, severity="critical"), headers=ACME)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{ONE}?severity=critical"
    assert r.json()["metadata"]["name"] == "acme-nodefilesystemspacefillingup-critical"


def test_a_pair_is_two_alerts_addressed_by_severity(api: ApiEnv) -> None:
    c = api.client
    _pair(api)
    for method in ("get", "delete"):
        r = c.request(method, ONE, headers=ACME)
        assert (r.status_code, r.json()) == (409, AMBIGUOUS)
    r = c.put(ONE, json=alert_spec(NAME, severity="warning"), headers=ACME)
    assert (r.status_code, r.json()) == (409, AMBIGUOUS)
    r = c.patch(f"{ONE}/enabled", json={"enabled": False}, headers=ACME)
    assert (r.status_code, r.json()) == (409, AMBIGUOUS)
    for severity in ("warning", "critical"):
        r = c.get(f"{ONE}?severity={severity}", headers=ACME)
        assert r.status_code == 200 and r.json()["spec"]["severity"] == severity
    items = c.get(BASE, headers=ACME).json()["items"]
    assert sorted((i["spec"]["alertName"], i["spec"]["severity"]) for i in items) == [
        (NAME, "critical"),
        (NAME, "warning"),
    ]


def test_both_rules_of_a_pair_render_and_each_changes_alone(api: ApiEnv) -> None:
    c = api.client
    _pair(api)
    rules_file = api.out / "rules" / "acme.yml"

    def rendered() -> list[tuple[str, str, str]]:
        if not rules_file.exists():
            return []
        groups = yaml.safe_load(rules_file.read_text())["groups"]
        return [
            (r["alert"], r["labels"]["severity"], r["expr"]) for g in groups for r in g["rules"]
        ]

    expr = 'rate(errors_total{customer_id="acme"}[5m]) > 1'
    eventually(lambda: rendered() == [(NAME, "critical", expr), (NAME, "warning", expr)])
    changed = alert_spec(NAME, severity="warning", expr=expr.replace("> 1", "> 0.5"))
    r = c.put(f"{ONE}?severity=warning&wait=true", json=changed, headers=ACME)
    assert r.status_code == 200, r.text
    assert rendered() == [(NAME, "critical", expr), (NAME, "warning", changed["expr"])]
    r = c.patch(f"{ONE}/enabled?severity=critical&wait=true", json={"enabled": False}, headers=ACME)
    assert r.status_code == 200 and r.json()["spec"]["enabled"] is False
    assert rendered() == [(NAME, "warning", changed["expr"])]
    r = c.delete(f"{ONE}?severity=critical", headers=ACME)
    assert r.status_code == 204
    # One left: the name is unique again, addressed with or without its severity.
    assert c.get(ONE, headers=ACME).json()["spec"]["severity"] == "warning"
    assert c.get(f"{ONE}?severity=warning", headers=ACME).status_code == 200


def test_the_same_name_and_severity_twice_is_409(api: ApiEnv) -> None:
    _pair(api)
    r = api.client.post(BASE, json=alert_spec(NAME, severity="warning"), headers=ACME)
    assert (r.status_code, r.json()) == (
        409,
        {"detail": f"alert {NAME!r} at severity 'warning' already exists; change it with PUT"},
    )


def test_a_severity_change_onto_the_partner_is_409_and_nothing_changes(api: ApiEnv) -> None:
    c = api.client
    _pair(api)
    r = c.put(f"{ONE}?severity=warning", json=alert_spec(NAME, severity="critical"), headers=ACME)
    assert (r.status_code, r.json()) == (
        409,
        {
            "detail": f"alert {NAME!r} at severity 'critical' exists already (CustomerAlert "
            "acme/acme-nodefilesystemspacefillingup-critical); a pair of alerts with one "
            "name needs two severities"
        },
    )
    assert c.get(f"{ONE}?severity=warning", headers=ACME).json()["metadata"]["generation"] == 1
    # Onto a free severity it is a plain change.
    r = c.put(f"{ONE}?severity=warning", json=alert_spec(NAME, severity="info"), headers=ACME)
    assert r.status_code == 200 and r.json()["spec"]["severity"] == "info"


def test_a_unique_name_checks_a_given_severity(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=alert_spec(NAME, severity="warning"), headers=ACME).status_code == 201
    assert c.get(f"{ONE}?severity=warning", headers=ACME).status_code == 200
    r = c.get(f"{ONE}?severity=critical", headers=ACME)
    assert (r.status_code, r.json()) == (
        404,
        {"detail": f"alert {NAME!r} has no severity 'critical' (it has: warning)"},
    )
    r = c.delete(f"{ONE}?severity=critical", headers=ACME)
    assert r.status_code == 404
    r = c.get(f"{ONE}?severity=urgent", headers=ACME)
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == ["query.severity"]


def test_another_customer_sees_none_of_a_pair(api: ApiEnv) -> None:
    c = api.client
    _pair(api)
    for query in ("", "?severity=warning", "?severity=critical"):
        r = c.get(f"{ONE}{query}", headers=GLOBEX)
        assert r.status_code == 404, r.text
        assert NAME not in r.text and "critical" not in r.text.replace("?severity=critical", "")
    # globex's own pair of the same name is its own: acme's stays as it was.
    g = "/customers/globex/alerts"
    for severity in ("warning", "critical"):
        spec = alert_spec(NAME, customer="globex", severity=severity)
        assert c.post(g, json=spec, headers=GLOBEX).status_code == 201
    assert c.get(f"{g}/{NAME}?severity=critical", headers=GLOBEX).json()["spec"]["customerId"] == (
        "globex"
    )
    assert len(c.get(BASE, headers=ADMIN).json()["items"]) == 2


def test_rollback_onto_the_partners_severity_is_409(api: ApiEnv) -> None:
    c = api.client
    r = c.post(BASE, json=alert_spec(NAME, severity="critical"), headers=ACME)
    assert r.status_code == 201
    r = c.put(ONE, json=alert_spec(NAME, severity="warning"), headers=ACME)
    assert r.status_code == 200
    assert c.post(BASE, json=alert_spec(NAME, severity="critical"), headers=ACME).status_code == 201
    # Version 1 of the first object was `critical`, which its partner holds now.
    r = c.post(f"{ONE}/rollback?severity=warning", json={"version": 1}, headers=ACME)
    assert r.status_code == 409
    assert r.json()["detail"].startswith(f"alert {NAME!r} at severity 'critical' exists already")

"""/customers/{id}/receivers and /routing on SQLite and PostgreSQL; secrets never come back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ADMIN, ApiEnv, alert_spec, api_env, receiver_spec

BASE = "/customers/acme/receivers"
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/VERYSECRETSLACKTOKEN"
PD_KEY = "pagerduty-VERYSECRETROUTINGKEY"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def test_receiver_crud(api: ApiEnv) -> None:
    c = api.client
    r = c.post(f"{BASE}?wait=true", json=receiver_spec(), headers=ACME)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{BASE}/oncall"
    assert r.json()["metadata"]["name"] == "acme-oncall"
    assert r.json()["status"]["phase"] == "Synced"
    assert r.json()["status"]["renderedTo"] == ["alertmanager.yml"]
    assert "acme/oncall" in (api.out / "alertmanager.yml").read_text()
    assert c.post(BASE, json=receiver_spec(), headers=ACME).status_code == 409
    assert [i["spec"]["receiverName"] for i in c.get(BASE, headers=ACME).json()["items"]] == [
        "oncall"
    ]
    assert (
        c.get(f"{BASE}/oncall", headers=ACME)
        .json()["spec"]["webhook"][0]["url"]
        .endswith("/oncall")
    )
    changed = receiver_spec(webhook=[{"url": "https://hooks.example.com/acme"}])
    r = c.put(f"{BASE}/oncall", json=changed, headers=ACME)
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2
    r = c.put(f"{BASE}/oncall", json=receiver_spec(webhook=[{"url": "ftp://x"}]), headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.webhook[0].url"
    r = c.post(f"{BASE}/oncall/rollback?wait=true", json={"version": 1}, headers=ACME)
    assert r.status_code == 200
    assert r.json()["spec"]["webhook"][0]["url"].endswith("/oncall")
    assert c.delete(f"{BASE}/oncall", headers=ACME).status_code == 204
    assert c.get(f"{BASE}/oncall", headers=ACME).status_code == 404
    assert c.post(BASE, json=receiver_spec(webhook=[]), headers=ACME).status_code == 422


def test_routing_sets_every_route_in_one_change(api: ApiEnv) -> None:
    c = api.client
    c.post(BASE, json=receiver_spec("oncall"), headers=ACME)
    c.post(BASE, json=receiver_spec("tickets"), headers=ACME)
    routes = {
        "oncall": {"priority": 10, "match": {"severity": ["critical"]}},
        "tickets": {"priority": 20, "match": {"severity": ["warning", "info"]}, "continue": True},
    }
    r = c.post("/customers/acme/routing?wait=true", json={"routes": routes}, headers=ACME)
    assert r.status_code == 200, r.text
    items = {i["spec"]["receiverName"]: i for i in r.json()["items"]}
    assert items["oncall"]["spec"]["route"]["priority"] == 10
    assert items["tickets"]["spec"]["route"]["continue"] is True
    assert {i["status"]["phase"] for i in items.values()} == {"Synced"}
    config = yaml.safe_load((api.out / "alertmanager.yml").read_text())
    (acme,) = config["route"]["routes"]
    assert [r["receiver"] for r in acme["routes"]] == ["acme/oncall", "acme/tickets"]

    # All or nothing: one unknown receiver and one bad route change nothing.
    before = api.store.change_marker()
    bad = {
        "oncall": {"priority": 1},
        "nobody": {"priority": 2},
        "tickets": {"match": {"severity": ["fatal"]}},
    }
    r = c.post("/customers/acme/routing", json={"routes": bad}, headers=ACME)
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == [
        "routes.nobody",
        "spec.route.match.severity[0]",
    ]
    assert api.store.change_marker() == before
    assert c.post("/customers/acme/routing", json=[], headers=ACME).status_code == 422


def test_route_test(api: ApiEnv) -> None:
    c = api.client
    c.post(
        BASE,
        json=receiver_spec("oncall", route={"match": {"severity": ["critical"]}}),
        headers=ACME,
    )
    c.post(
        BASE,
        json=receiver_spec("audit", route={"priority": 1, "continue": True}),
        headers=ACME,
    )

    def reach(labels: dict[str, str]) -> list[str]:
        r = c.post("/customers/acme/routing/test", json={"labels": labels}, headers=ACME)
        assert r.status_code == 200, r.text
        assert r.json()["labels"]["customer_id"] == "acme"
        return list(r.json()["receivers"])

    assert reach({"severity": "critical"}) == ["audit", "oncall"]
    assert reach({"severity": "info"}) == ["audit"]
    r = c.post(
        "/customers/acme/routing/test",
        json={"labels": {"customer_id": "globex"}},
        headers=ACME,
    )
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "labels.customer_id"
    c.delete(f"{BASE}/audit", headers=ACME)
    r = c.post("/customers/acme/routing/test", json={"labels": {}}, headers=ACME)
    assert r.json()["receivers"] == []
    assert r.json()["alertmanagerReceivers"] == ["platform-default"]


def test_secret_values_never_leave_the_server(api: ApiEnv) -> None:
    c = api.client
    spec = receiver_spec(
        "chat",
        slack=[{"apiURL": SLACK_URL, "channel": "#alerts"}],
        pagerduty=[{"routingKey": PD_KEY}],
    )
    responses = [c.post(f"{BASE}?wait=true", json=spec, headers=ACME)]
    assert responses[0].status_code == 201, responses[0].text
    slack = responses[0].json()["spec"]["slack"][0]
    assert slack["apiURLSecretRef"] == {"name": "acme-chat", "key": "slack-api-url-0"}
    spec["slack"][0]["channel"] = "#other"
    responses.append(c.put(f"{BASE}/chat?wait=true", json=spec, headers=ACME))
    responses.append(c.post(f"{BASE}/chat/rollback", json={"version": 1}, headers=ACME))
    responses.append(
        c.post("/customers/acme/routing", json={"routes": {"chat": {"priority": 5}}}, headers=ACME)
    )
    invalid = {**spec, "slack": [{"apiURL": SLACK_URL, "chanel": "#typo"}]}
    responses.append(c.put(f"{BASE}/chat", json=invalid, headers=ACME))
    assert responses[-1].status_code == 422
    c.post("/customers/acme/alerts", json=alert_spec(), headers=ACME)
    for path in (
        BASE,
        f"{BASE}/chat",
        "/customers/acme/audit",
        "/customers",
        "/export",
        "/export?format=yaml",
    ):
        responses.append(c.get(path, headers=ADMIN))
    exported = c.get("/export?format=yaml", headers=ADMIN).text
    responses.append(
        c.post("/validate", content=exported, headers={**ADMIN, "content-type": "application/yaml"})
    )
    responses.append(c.post("/customers/acme/routing/test", json={"labels": {}}, headers=ACME))
    for r in responses:
        assert r.status_code < 500
        assert "VERYSECRET" not in r.text, r.text
    assert "VERYSECRET" not in api.db_dump()
    assert "VERYSECRET" not in (api.out / "alertmanager.yml").read_text()
    secret = api.secrets / "acme" / "acme-chat" / "slack-api-url-0"
    assert secret.read_text() == SLACK_URL and secret.stat().st_mode & 0o777 == 0o600
    assert (api.secrets / "acme" / "acme-chat" / "pagerduty-routing-key-0").read_text() == PD_KEY

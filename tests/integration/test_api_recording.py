"""/customers/{id}/recordingrules (issue 14 §2) on SQLite and PostgreSQL: CRUD through the
generic object router, the reconciler's verdict, exact refusals, PATCH enabled, and a
record several objects share (apply/kubectl) never picked for the caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, api_env, record_spec
from tests.support.factories import obj, recording_rule

BASE = "/customers/acme/recordingrules"
R = "job:errors:rate5m"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def _rules(api: ApiEnv) -> list[dict[str, object]]:
    data = yaml.safe_load((api.out / "rules" / "acme.yml").read_text(encoding="utf-8"))
    return [r for g in data["groups"] if g["name"] == "acme-records" for r in g["rules"]]


def test_create_read_update_disable_delete(api: ApiEnv) -> None:
    c = api.client
    r = c.post(f"{BASE}?wait=true", json=record_spec(labels={"team": "web"}), headers=ACME)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{BASE}/job%3Aerrors%3Arate5m"
    assert body["kind"] == "CustomerRecordingRule"
    assert body["metadata"]["name"].startswith("acme-job-errors-rate5m-")  # ':' → hashed
    assert (body["status"]["phase"], body["status"]["renderedTo"]) == ("Synced", ["rules/acme.yml"])
    assert _rules(api) == [
        {
            "record": R,
            "expr": 'sum by (job) (rate(errors_total{customer_id="acme"}[5m]))',
            "labels": {"customer_id": "acme", "team": "web"},
        }
    ]
    assert c.get(f"{BASE}/{R}", headers=ACME).json()["spec"]["labels"] == {"team": "web"}
    listed = c.get(BASE, headers=ADMIN).json()["items"]
    assert [i["spec"]["record"] for i in listed] == [R]
    counts = {i["customerId"]: i for i in c.get("/customers", headers=ADMIN).json()["items"]}
    assert counts["acme"]["recordingrules"] == 1

    r = c.put(f"{BASE}/{R}?wait=true", json=record_spec(), headers=ACME)
    assert (r.status_code, r.json()["metadata"]["generation"]) == (200, 2), r.text
    assert _rules(api)[0]["labels"] == {"customer_id": "acme"}

    r = c.patch(f"{BASE}/{R}/enabled?wait=true", json={"enabled": False}, headers=ACME)
    assert (r.status_code, r.json()["status"]["phase"]) == (200, "Disabled"), r.text
    assert not (api.out / "rules" / "acme.yml").exists()

    r = c.post(f"{BASE}/{R}/rollback?wait=true", json={"version": 1}, headers=ACME)
    assert r.status_code == 200 and r.json()["spec"]["labels"] == {"team": "web"}, r.text
    assert c.delete(f"{BASE}/{R}", headers=ACME).status_code == 204
    assert c.get(f"{BASE}/{R}", headers=ACME).json() == {"detail": "recording rule not found"}
    assert c.get(f"{BASE}/{R}", headers=GLOBEX).json() == {"detail": "customer not found"}


def test_refusals_are_exact(api: ApiEnv) -> None:
    c = api.client
    cases = [
        (
            record_spec("http_requests_total"),
            "spec.record",
            "'http_requests_total' has no ':': a recorded series must not take the name of a "
            "scraped metric",
        ),
        (
            record_spec(labels={"customer_id": "globex"}),
            "spec.labels.customer_id",
            "label 'customer_id' is set by alertplane",
        ),
        (
            record_spec(expr='sum(errors_total{customer_id="globex"})'),
            "spec.expr",
            'selector errors_total{customer_id="globex"} selects customer "globex"',
        ),
    ]
    for body, path, message in cases:
        r = c.post(BASE, json=body, headers=ACME)
        assert r.status_code == 422, r.text
        problems = [(p["path"], p["message"]) for p in r.json()["problems"]]
        assert (path, message) in problems, problems
    assert c.post(BASE, json=["x"], headers=ACME).json()["problems"][0]["hint"] == (
        'send the spec\'s fields, e.g. {"record": ..., "expr": ...}'
    )
    assert c.post(BASE, json=record_spec(), headers=ACME).status_code == 201
    again = c.post(BASE, json=record_spec(labels={"reason": "other"}), headers=ACME)
    assert (again.status_code, again.json()) == (
        409,
        {"detail": f"recording rule {R!r} already exists; change it with PUT"},
    )


def test_a_record_several_objects_share_is_not_picked_for_the_caller(api: ApiEnv) -> None:
    cpu = obj(recording_rule(labels={"reason": "cpu"}))
    memory = recording_rule(labels={"reason": "memory"})
    memory["metadata"]["name"] = "acme-memory"
    api.store.apply([cpu, obj(memory)], "t", "cli")
    for method in ("GET", "PUT", "DELETE"):
        body = record_spec() if method == "PUT" else None
        r = api.client.request(method, f"{BASE}/{R}", json=body, headers=ACME)
        assert r.status_code == 409, (method, r.text)
        assert r.json() == {
            "detail": f"2 recording rules of customer 'acme' are named {R!r} (acme/"
            "acme-job-errors-rate5m with labels {'reason': 'cpu'}; acme/acme-memory with "
            "labels {'reason': 'memory'}); the API addresses one by name only while it is "
            "unique: change them with alertplane apply or kubectl"
        }
    assert len(api.client.get(BASE, headers=ACME).json()["items"]) == 2

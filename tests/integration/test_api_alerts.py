"""/customers/{id}/alerts on SQLite and PostgreSQL: CRUD, status, wait, errors, audit, rollback."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from alertplane.service.objects import object_name
from tests.support.api_env import ACME, ADMIN, ApiEnv, alert_spec, api_env
from tests.support.problems import unplaced
from tests.support.waiting import eventually


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


BASE = "/customers/acme/alerts"


def test_create_get_update_delete(api: ApiEnv) -> None:
    c = api.client
    r = c.post(BASE, json=alert_spec(), headers=ACME)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{BASE}/HighErrorRate"
    assert body["metadata"] == {
        "name": "acme-higherrorrate",
        "namespace": "acme",
        "generation": 1,
        "labels": {},
    }
    assert body["spec"]["customerId"] == "acme"  # filled in from the path
    assert body["status"]["phase"] == "Pending"

    r = c.get(f"{BASE}/HighErrorRate?", headers=ACME)
    assert r.status_code == 200 and r.json()["spec"]["alertName"] == "HighErrorRate"
    items = c.get(BASE, headers=ADMIN).json()["items"]
    assert [i["metadata"]["name"] for i in items] == ["acme-higherrorrate"]

    r = c.put(f"{BASE}/HighErrorRate?wait=true", json=alert_spec(severity="warning"), headers=ACME)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"]["generation"] == 2
    assert body["status"]["phase"] == "Synced"
    assert body["status"]["observedGeneration"] == 2
    assert body["status"]["renderedTo"] == ["rules/acme.yml"]
    rules = yaml.safe_load((api.out / "rules" / "acme.yml").read_text())
    (rule,) = rules["groups"][0]["rules"]
    assert (rule["alert"], rule["labels"]["severity"]) == ("HighErrorRate", "warning")

    r = c.delete(f"{BASE}/HighErrorRate", headers=ACME)
    assert r.status_code == 204 and r.content == b""
    assert c.get(f"{BASE}/HighErrorRate", headers=ACME).json() == {"detail": "alert not found"}
    assert c.delete(f"{BASE}/HighErrorRate", headers=ACME).status_code == 404
    eventually(lambda: not (api.out / "rules" / "acme.yml").exists())


def test_write_without_wait_is_pending_and_wait_reaches_synced(api: ApiEnv) -> None:
    r = api.client.post(f"{BASE}?wait=true", json=alert_spec(), headers=ACME)
    assert r.status_code == 201
    status = r.json()["status"]
    assert status["phase"] == "Synced"
    assert [c["type"] for c in status["conditions"]] == ["Valid", "Synced"]
    assert status["conditions"][1]["reason"] == "Written"  # no reload URL in this test
    # An update answers Pending at once: the status belongs to the previous generation.
    r = api.client.put(f"{BASE}/HighErrorRate", json=alert_spec(severity="info"), headers=ACME)
    assert r.json()["status"]["phase"] == "Pending"
    assert r.json()["status"]["observedGeneration"] < r.json()["metadata"]["generation"]


def test_wait_reports_invalid_found_by_the_tools(api: ApiEnv) -> None:
    # A broken Go template passes the pure checks; promtool finds it before anything is
    # written, and the waiting writer sees Invalid with the field path.
    spec = alert_spec(annotations={"summary": "{{ $labels.service "})
    r = api.client.post(f"{BASE}?wait=true", json=spec, headers=ACME)
    assert r.status_code == 201
    status = r.json()["status"]
    assert status["phase"] == "Invalid"
    assert status["conditions"][0]["message"].startswith("spec.annotations.summary: invalid")
    assert not (api.out / "rules" / "acme.yml").exists()


def test_wait_is_bounded(db_url: str, tmp_path: Path) -> None:
    with api_env(db_url, tmp_path, run_reconciler=False, wait_timeout_s=0.5) as env:
        start = time.monotonic()
        r = env.client.post(f"{BASE}?wait=true", json=alert_spec(), headers=ACME)
        assert r.status_code == 201 and r.json()["status"]["phase"] == "Pending"
        assert 0.4 < time.monotonic() - start < 5


def _validate_lines(tmp_path: Path, manifest: dict[str, object]) -> list[str]:
    """What `alertplane validate` prints for the same object as a manifest."""
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["validate", "--no-tools", "-f", str(path)])
    # A JSON write has no position (docs/positions.md); validate's line has one.
    return unplaced(out.getvalue()).splitlines()


@pytest.mark.parametrize(
    "spec",
    [
        alert_spec(expr="rate(errors_total[5m]) > 1"),  # isolation
        alert_spec(expr='rate(errors_total{customer_id=~"acme|globex"}[5m])'),
        alert_spec(severty="critical"),  # schema: did you mean
        alert_spec(labels={"customer_id": "globex"}),  # reserved label
        alert_spec(**{"for": "5 minutes"}),  # duration
        alert_spec(name="9\nlives"),
    ],
    ids=["no-matcher", "regex-matcher", "typo", "reserved-label", "duration", "bad-name"],
)
def test_problems_are_the_validate_lines(
    api: ApiEnv, tmp_path: Path, spec: dict[str, object]
) -> None:
    r = api.client.post(BASE, json=spec, headers=ACME)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    manifest = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerAlert",
        "metadata": {"name": object_name("acme", str(spec["alertName"])), "namespace": "acme"},
        "spec": {"customerId": "acme", **spec},
    }
    assert [p["text"] for p in problems] == _validate_lines(tmp_path, manifest)
    assert all(p["path"] and p["message"] for p in problems)
    assert api.store.get() == [] and api.store.history() == []  # nothing stored


def test_path_wins_over_the_body(api: ApiEnv) -> None:
    r = api.client.post(BASE, json={**alert_spec(), "customerId": "globex"}, headers=ADMIN)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.customerId"
    api.client.post(BASE, json=alert_spec(), headers=ACME)
    r = api.client.put(f"{BASE}/HighErrorRate", json=alert_spec("Other"), headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.alertName"
    # Leaving both out is the normal case for updates.
    spec = {k: v for k, v in alert_spec().items() if k != "alertName"}
    assert api.client.put(f"{BASE}/HighErrorRate", json=spec, headers=ACME).status_code == 200


def test_conflict_not_found_and_bad_bodies(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=alert_spec(), headers=ACME).status_code == 201
    r = c.post(BASE, json=alert_spec(), headers=ACME)  # another severity is a pair: 201
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    assert c.put(f"{BASE}/Missing", json=alert_spec("Missing"), headers=ACME).status_code == 404
    assert c.get(f"{BASE}/not-an-alert-name", headers=ACME).status_code == 404
    for bad in (b"[1, 2]", b'"text"', b"null", b"{"):
        r = c.post(BASE, content=bad, headers={**ACME, "content-type": "application/json"})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["problems"]
    r = c.post(BASE, json=alert_spec(expr="up\x00"), headers=ACME)
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "spec.expr"
    r = c.post(
        BASE,
        content=b'{"alertName": "X", "expr": "\\ud800"}',
        headers={**ACME, "content-type": "application/json"},
    )
    assert r.status_code == 422


def test_object_names_default_and_never_collide(api: ApiEnv) -> None:
    c = api.client
    r = c.post(BASE, json=alert_spec("High_Error_Rate"), headers=ACME)
    assert r.json()["metadata"] == {
        "name": "acme-high-error-rate",
        "namespace": "acme",
        "generation": 1,
        "labels": {},
    }
    # Same object name after lower-casing, different alert: gets a hashed suffix.
    r = c.post(BASE, json=alert_spec("HIGH_ERROR_RATE"), headers=ACME)
    assert r.status_code == 201
    name = r.json()["metadata"]["name"]
    assert (
        name.startswith("acme-high-error-rate-") and len(name) == len("acme-high-error-rate-") + 8
    )
    assert c.get(f"{BASE}/HIGH_ERROR_RATE", headers=ACME).json()["metadata"]["name"] == name


def test_enable_disable(api: ApiEnv) -> None:
    c = api.client
    c.post(BASE, json=alert_spec(), headers=ACME)
    r = c.patch(f"{BASE}/HighErrorRate/enabled?wait=true", json={"enabled": False}, headers=ACME)
    assert r.status_code == 200
    assert (r.json()["spec"]["enabled"], r.json()["status"]["phase"]) == (False, "Disabled")
    r = c.patch(f"{BASE}/HighErrorRate/enabled?wait=true", json={"enabled": True}, headers=ACME)
    assert r.json()["status"]["phase"] == "Synced"
    assert (
        c.patch(f"{BASE}/HighErrorRate/enabled", json={"enabled": "no"}, headers=ACME).status_code
        == 422
    )
    assert c.patch(f"{BASE}/Nope/enabled", json={"enabled": True}, headers=ACME).status_code == 404
    actions = [(h.action, h.actor, h.source) for h in api.store.history()]
    assert actions == [
        ("create", "acme-team", "api"),
        ("disable", "acme-team", "api"),
        ("enable", "acme-team", "api"),
    ]


def test_audit_and_rollback(api: ApiEnv) -> None:
    c = api.client
    c.post(BASE, json=alert_spec(severity="warning"), headers=ACME)
    c.put(f"{BASE}/HighErrorRate", json=alert_spec(severity="critical"), headers=ADMIN)
    r = c.post(f"{BASE}/HighErrorRate/rollback?wait=true", json={"version": 1}, headers=ACME)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["spec"]["severity"] == "warning"
    assert body["metadata"]["generation"] == 3
    assert body["status"]["phase"] == "Synced"
    audit = c.get("/customers/acme/audit", headers=ACME).json()["items"]
    assert [(a["action"], a["generation"], a["actor"], a["source"]) for a in audit] == [
        ("create", 1, "acme-team", "api"),
        ("update", 2, "platform-admin", "api"),
        ("rollback", 3, "acme-team", "rollback"),
    ]
    assert audit[0]["before"] is None and audit[0]["after"]["severity"] == "warning"
    assert audit[2]["before"]["severity"] == "critical"
    assert audit[2]["after"]["severity"] == "warning"
    only = c.get("/customers/acme/audit?name=acme-higherrorrate&limit=1", headers=ACME).json()
    assert [a["generation"] for a in only["items"]] == [3]
    r = c.post(f"{BASE}/HighErrorRate/rollback", json={"version": 99}, headers=ACME)
    assert r.status_code == 404 and "no version 99" in r.json()["detail"]
    r = c.post(f"{BASE}/HighErrorRate/rollback", json={"version": 0}, headers=ACME)
    assert r.status_code == 422


def test_rollback_to_a_version_that_is_invalid_now_is_refused(api: ApiEnv) -> None:
    # Stored through the CLI door (which keeps semantically invalid specs), then fixed.
    from alertplane.validate import parse_document
    from tests.support.factories import alert

    bad, _ = parse_document(alert("acme", expr="rate(errors_total[5m]) > 1"))
    assert bad is not None
    api.store.apply([bad], "cli-user", "cli")
    api.client.put(f"{BASE}/HighErrorRate", json=alert_spec(), headers=ACME)
    r = api.client.post(f"{BASE}/HighErrorRate/rollback", json={"version": 1}, headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.expr"
    assert [h.action for h in api.store.history()] == ["create", "update"]

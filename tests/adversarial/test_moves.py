"""Moving an object to another customer carries none of the old customer's history or
namespace.

A move is an admin's `/import` (or `alertplane apply`) of an object's identity with
another `customerId`. The old object is deleted — its audit rows stay the old customer's —
and the new customer's object starts afresh (generation 1) in the new customer's
namespace. So acme, given one of globex's alerts, learns neither which versions globex
had nor their content, cannot roll back into them, and its writes stay in its namespace.
Standalone mode, on SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from alertplane.cli import main
from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, alert_spec, api_env

GLOBEX_ALERTS = "/customers/globex/alerts"
ACME_ALERTS = "/customers/acme/alerts"


def _globex_history(env: ApiEnv) -> dict[str, Any]:
    """globex's alert `Shared`, changed three times (generation 4); its manifest."""
    spec = alert_spec("Shared", "globex", annotations={"summary": "globex secret plan v1"})
    assert env.client.post(GLOBEX_ALERTS, json=spec, headers=GLOBEX).status_code == 201
    for n in (2, 3, 4):
        spec["annotations"] = {"summary": f"globex secret plan v{n}"}
        r = env.client.put(f"{GLOBEX_ALERTS}/Shared", json=spec, headers=GLOBEX)
        assert r.status_code == 200 and r.json()["metadata"]["generation"] == n, r.text
    (item,) = env.client.get("/export?customer=globex", headers=ADMIN).json()["items"]
    return dict(item)


def _given_to_acme(manifest: dict[str, Any]) -> dict[str, Any]:
    moved = copy.deepcopy(manifest)
    moved["spec"]["customerId"] = "acme"
    moved["spec"]["expr"] = 'rate(errors_total{customer_id="acme"}[5m]) > 1'
    return moved


def _assert_fresh_in_acme(env: ApiEnv, old_name: str) -> None:
    got = env.client.get(f"{ACME_ALERTS}/Shared", headers=ACME).json()
    assert got["metadata"]["namespace"] == "acme"
    assert got["metadata"]["generation"] == 1
    # acme's audit: only its own object's life, nothing of globex's versions.
    rows = env.client.get("/customers/acme/audit", headers=ACME).json()["items"]
    assert [(r["action"], r["namespace"], r["generation"]) for r in rows] == [("create", "acme", 1)]
    # (the content and object name are what the admin gave acme; the earlier ones are not)
    assert not any(f"plan v{n}" in str(rows) for n in (1, 2, 3))
    assert not any(r["namespace"] == "globex" for r in rows)
    # globex's versions are not acme's: rolling back to them is "no such version",
    # exactly like a version that never existed.
    never = env.client.post(f"{ACME_ALERTS}/Shared/rollback", json={"version": 99}, headers=ACME)
    assert never.status_code == 404
    for version in (2, 3, 4):
        r = env.client.post(
            f"{ACME_ALERTS}/Shared/rollback", json={"version": version}, headers=ACME
        )
        assert (r.status_code, r.json()["detail"].replace(str(version), "N")) == (
            404,
            never.json()["detail"].replace("99", "N"),
        )
    # acme's writes land in its own namespace; globex's namespace holds nothing of acme.
    spec = alert_spec("Shared", "acme", severity="warning")
    r = env.client.put(f"{ACME_ALERTS}/Shared", json=spec, headers=ACME)
    assert r.status_code == 200 and r.json()["metadata"]["namespace"] == "acme", r.text
    assert all(s.customer_id == "globex" for s in env.store.get() if s.ref.namespace == "globex")
    # globex keeps its history, the deletion included; none of acme's rows.
    rows = env.client.get("/customers/globex/audit", headers=GLOBEX).json()["items"]
    assert [(r["action"], r["generation"]) for r in rows] == [
        ("create", 1), ("update", 2), ("update", 3), ("update", 4), ("delete", 4)
    ]  # fmt: skip
    assert {r["name"] for r in rows} == {old_name}
    assert env.client.get("/customers/globex/alerts", headers=GLOBEX).json()["items"] == []


def test_an_import_moves_an_object_without_its_history_or_namespace(
    db_url: str, tmp_path: Path
) -> None:
    with api_env(db_url, tmp_path, run_reconciler=False) as env:
        manifest = _globex_history(env)
        assert manifest["metadata"]["namespace"] == "globex"
        r = env.client.post("/import", json=[_given_to_acme(manifest)], headers=ADMIN)
        assert r.status_code == 200, r.text
        assert r.json()["changes"] == [
            {
                "kind": "CustomerAlert",
                "namespace": "acme",
                "name": manifest["metadata"]["name"],
                "action": "created",
                "generation": 1,
            }
        ]
        _assert_fresh_in_acme(env, manifest["metadata"]["name"])


def test_apply_moves_an_object_without_its_history_or_namespace(
    db_url: str, tmp_path: Path, capsys: Any
) -> None:
    with api_env(db_url, tmp_path, run_reconciler=False) as env:
        manifest = _globex_history(env)
        path = tmp_path / "moved.yaml"
        path.write_text(yaml.safe_dump(_given_to_acme(manifest)))
        capsys.readouterr()
        code = main(["apply", "-f", str(path), "--db", db_url, "--actor", "ops"])
        out = capsys.readouterr().out
        assert (code, out) == (0, f"customeralert/{manifest['metadata']['name']} created\n")
        _assert_fresh_in_acme(env, manifest["metadata"]["name"])


def test_kubernetes_mode_moves_without_history(kube_api: Any) -> None:
    """Kubernetes mode (a real API server, the operator, its mirror): the admin's import
    deletes globex's custom resource and creates acme's afresh (generation 1, a new uid),
    so the mirror's history of the name is globex's up to the deletion, acme's after."""
    from tests.support.api_k8s_env import api_app

    env = kube_api
    env.cluster.namespace("shared-move", "acme.globex")
    api = api_app(
        env.store, env.kube, env.tokens, writer_options={"namespace_template": "shared-move"}
    )
    base = "/customers/globex/alerts"
    spec = alert_spec("Moved", "globex", annotations={"summary": "globex plan v1"})
    assert api.post(base, json=spec, headers=GLOBEX).status_code == 201
    for n in (2, 3):
        spec["annotations"] = {"summary": f"globex plan v{n}"}
        assert api.put(f"{base}/Moved", json=spec, headers=GLOBEX).status_code == 200
    before = env.cluster.get("CustomerAlert", "shared-move", "globex-moved")
    assert before is not None and before["metadata"]["generation"] == 3

    doc = {k: before[k] for k in ("apiVersion", "kind")}
    doc["metadata"] = {"name": "globex-moved", "namespace": "shared-move"}
    doc["spec"] = {**alert_spec("Moved", "acme"), "customerId": "acme"}
    r = api.post("/import", json=[doc], headers=ADMIN)
    assert r.status_code == 200, r.text
    assert [(c["namespace"], c["action"], c["generation"]) for c in r.json()["changes"]] == [
        ("shared-move", "created", 1)
    ]
    after = env.cluster.get("CustomerAlert", "shared-move", "globex-moved")
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["metadata"]["generation"] == 1

    rows = api.get("/customers/acme/audit?name=globex-moved", headers=ACME).json()["items"]
    assert [(r["action"], r["generation"]) for r in rows] == [("create", 1)]
    assert "plan v" not in str(rows)
    never = api.post("/customers/acme/alerts/Moved/rollback", json={"version": 9}, headers=ACME)
    old = api.post("/customers/acme/alerts/Moved/rollback", json={"version": 2}, headers=ACME)
    assert (old.status_code, never.status_code) == (404, 404)
    assert old.json()["detail"].replace("2", "N") == never.json()["detail"].replace("9", "N")

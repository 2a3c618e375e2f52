"""Tenancy in Kubernetes mode: objects in namespaces not bound to a customer are not its,
and the API writes only to namespaces bound to the customer."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.kube.paths import api_path
from tests.support.api_env import ACME, ACME_TOKEN, ADMIN, alert_spec, receiver_spec
from tests.support.api_k8s_env import ALERT, RECEIVER, Env, alert_doc, api_app, squat


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def test_objects_in_namespaces_not_bound_to_the_customer_are_not_its(env: Env) -> None:
    from tests.support.console import browser

    c = env.client
    squat(env, "oncall")

    # acme's token does not see it: list, get, audit, export, overview counts, routing.
    before = c.get("/customers", headers=ACME).json()["items"]
    # (Other tests of this shared cluster bind more namespaces to acme: none is globex.)
    listed = c.get("/customers/acme/receivers", headers=ACME).json()["items"]
    assert all(i["metadata"]["namespace"] != "globex" for i in listed)
    assert c.get("/customers/acme/receivers/oncall", headers=ACME).status_code == 404
    audit = c.get("/customers/acme/audit", headers=ACME).json()["items"]
    assert all(a["namespace"] != "globex" for a in audit)
    exported = c.get("/export", headers=ACME).json()["items"]
    assert all(i["metadata"]["namespace"] != "globex" for i in exported)
    r = c.post("/customers/acme/routing/test", json={"labels": {}}, headers=ACME)
    assert "oncall" not in r.json()["receivers"]

    # It cannot change or delete it (the API's RBAC would write into globex's namespace).
    put = receiver_spec("oncall", webhook=[{"url": "http://127.0.0.1:9097/acme-secret"}])
    assert c.put("/customers/acme/receivers/oncall", json=put, headers=ACME).status_code == 404
    assert c.delete("/customers/acme/receivers/oncall", headers=ACME).status_code == 404
    routes = {"routes": {"oncall": {"priority": 3}}}
    assert c.post("/customers/acme/routing", json=routes, headers=ACME).status_code == 422
    squatter = env.cr(RECEIVER, "acme-oncall", "globex")
    assert squatter is not None and "acme-secret" not in str(squatter["spec"])

    # The name is not taken: acme creates its own oncall in its own namespace.
    r = c.post("/customers/acme/receivers?wait=true", json=receiver_spec("oncall"), headers=ACME)
    assert (r.status_code, r.json()["metadata"]["namespace"]) == (201, "acme"), r.text
    assert r.json()["status"]["phase"] == "Synced"
    got = c.get("/customers/acme/receivers/oncall", headers=ACME).json()
    assert got["metadata"]["namespace"] == "acme"
    r = c.put("/customers/acme/receivers/oncall?wait=true", json=put, headers=ACME)
    assert (r.status_code, r.json()["metadata"]["namespace"]) == (200, "acme"), r.text
    assert "acme-secret" not in str(env.cr(RECEIVER, "acme-oncall", "globex")["spec"])  # type: ignore[index]
    after = c.get("/customers", headers=ACME).json()["items"]
    assert after[0]["receivers"] == before[0]["receivers"] + 1  # its own, not the squatter

    # The admin sees everything, the squatter too, with its Invalid status.
    listed = c.get("/customers/acme/receivers", headers=ADMIN).json()["items"]
    found = {(i["metadata"]["namespace"], i["status"]["phase"]) for i in listed
             if i["spec"]["receiverName"] == "oncall"}  # fmt: skip
    assert found == {("acme", "Synced"), ("globex", "Invalid")}
    exported = c.get("/export?customer=acme", headers=ADMIN).json()["items"]
    assert "globex" in {i["metadata"]["namespace"] for i in exported}
    # ... but its name lookups for writes are bound too: the PUT changes acme's own.
    assert (
        c.get("/customers/acme/receivers/oncall", headers=ADMIN).json()["metadata"]["namespace"]
        == "acme"
    )

    # The console's receivers page for acme does not show it.
    acme = browser(env.client, ACME_TOKEN)
    page = acme.get("/console/customers/acme/receivers")
    assert page.status_code == 200 and "globex" not in page.text
    for path in ("/console/customers/acme/audit", "/console/customers/acme/status"):
        assert "globex" not in acme.get(path).text

    assert c.delete("/customers/acme/receivers/oncall", headers=ACME).status_code == 204
    assert env.cr(RECEIVER, "acme-oncall", "globex") is not None
    env.kube.delete(
        api_path("alertplane.io/v1alpha1", "customerreceivers", "globex", "acme-oncall")
    )


def test_writes_go_only_to_namespaces_bound_to_the_customer(env: Env, tmp_path: Path) -> None:
    # --customer-namespace pointing at a namespace bound to another customer: 422 naming
    # the namespace, the label and the fix; nothing written.
    app = api_app(env.store, env.kube, env.tokens, namespace_template="globex")
    r = app.post("/customers/acme/alerts", json=alert_spec("Astray"), headers=ACME)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert problem["path"] == "metadata.namespace"
    assert 'namespace "globex" is bound to globex' in problem["message"]
    assert "alertplane.io/customer" in problem["message"]
    assert "kubectl label namespace globex alertplane.io/customer=acme" in problem["hint"]
    assert "--customer-namespace" in problem["hint"]
    assert env.cr(ALERT, "acme-astray", "globex") is None

    # A namespace without the label: the same, also for an admin's import.
    env.cluster.namespace("unbound-i")
    doc = alert_doc("Astray", cid="acme", namespace="unbound-i")
    r = env.client.post("/import", json=[doc], headers=ADMIN)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert 'namespace "unbound-i" has no label alertplane.io/customer' in problem["text"]
    assert env.cr(ALERT, "acme-astray", "unbound-i") is None


def test_a_customers_moves_between_shards_show_in_its_bound_audit(env: Env) -> None:
    """The operator's move rows (kind Placement, no namespace) are the customer's own: its
    token, bound to its namespaces, sees them in the API and the console."""
    from datetime import UTC, datetime

    from alertplane.k8s.changes import MoveEntry
    from alertplane.store.db import open_db
    from alertplane.store.mirror import write_move
    from tests.support.console import browser

    # What the operator's mirror writes for a finished move (k8s/mirror.py `record_move`).
    actor = "alertplane-operator/op-test"
    with open_db(env.db).begin() as s:
        write_move(s, MoveEntry("acme", "shard-a", "shard-b", actor, datetime.now(UTC)))
    items = env.client.get("/customers/acme/audit", headers=ACME).json()["items"]
    moved = [i for i in items if i["kind"] == "Placement"]
    assert [(m["action"], m["namespace"], m["name"], m["actor"]) for m in moved][-1:] == [
        ("move", "", "acme", actor)
    ]
    assert (moved[-1]["before"]["shard"], moved[-1]["after"]["shard"]) == ("shard-a", "shard-b")
    page = browser(env.client, ACME_TOKEN).get("/console/customers/acme/audit")
    assert page.status_code == 200 and "shard placement of acme" in page.text
    assert "receiver acme<" not in page.text

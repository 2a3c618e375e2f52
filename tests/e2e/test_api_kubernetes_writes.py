"""The REST API in Kubernetes mode when the cluster moves under it: a create never replaces
what the cluster has, an import never replaces another customer's object, an undo touches
only what it created, a failed delete leaves no signed notes, bookkeeping between read and
write is no conflict, and forged API annotations are not the tokens'. The shared cluster
is tests/support/api_k8s_env.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alertplane.k8s.changes import CHANGE_SOURCE, CHANGED_AT, CHANGED_BY
from alertplane.kube.client import KubeClient
from alertplane.kube.paths import api_path
from alertplane.kube.signing import SIGNATURE
from alertplane.service.objects import object_name
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.api_env import ACME, ADMIN, GLOBEX, alert_spec
from tests.support.api_k8s_env import ALERT, ALERTS, Env, alert_doc, api_app
from tests.support.operator_env import wait_for


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def _lagging_api(env: Env, tmp_path: Path, template: str = "{customer}") -> TestClient:
    """An API whose mirror has seen nothing yet: a mirror lagging behind the cluster (here
    an empty database), so only the API server can tell that a name is taken."""
    empty = Store(open_db(f"sqlite:///{tmp_path / 'lagging.db'}"))
    options = {"namespace_template": template, "mirror_wait_s": 0.0}
    return api_app(empty, env.kube, env.tokens, writer_options=options)


def _precreate(
    env: Env, namespace: str, name: str, cid: str, alert: str, severity: str = "warning"
) -> dict[str, Any]:
    """As someone else would, straight into the cluster (not through the API)."""
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**alert_spec(alert, customer=cid, severity=severity), "customerId": cid},
    }
    path = api_path("alertplane.io/v1alpha1", "customeralerts", namespace)
    return env.cluster.api.request("POST", path, doc)


def test_a_create_never_replaces_what_the_cluster_has(env: Env, tmp_path: Path) -> None:
    """A create only POSTs: what the (lagging) mirror does not know yet, a concurrent create
    or another customer's object of the same name in a shared namespace stays as it is."""
    env.cluster.namespace("shared-alerts", "a.a-b.a-d.x")  # one namespace, four customers
    # Customer a-b's alert c and customer a's alert b_c are both shared-alerts/a-b-c.
    theirs = _precreate(env, "shared-alerts", "a-b-c", "a-b", "c")
    shared = _lagging_api(env, tmp_path, template="shared-alerts")
    r = shared.post("/customers/a/alerts", json=alert_spec("b_c", customer="a"), headers=ADMIN)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["name"] == object_name("a", "b_c", salted=True)
    kept = env.cr(ALERT, "a-b-c", "shared-alerts")
    assert kept is not None
    assert kept["spec"] == theirs["spec"]
    assert "alertplane.io/changed-by" not in (kept["metadata"].get("annotations") or {})

    # The salted name taken as well: 409 saying what to do, nothing replaced.
    _precreate(env, "shared-alerts", "a-d-e", "a-d", "e")
    salted = object_name("a", "d_e", salted=True)
    other = _precreate(env, "shared-alerts", salted, "x", "Other")
    r = shared.post("/customers/a/alerts", json=alert_spec("d_e", customer="a"), headers=ADMIN)
    assert r.status_code == 409, r.text
    assert "no free object name" in r.json()["detail"]
    assert env.cr(ALERT, salted, "shared-alerts")["spec"] == other["spec"]  # type: ignore[index]

    # The same alert (name and severity: its identity) created meanwhile (a concurrent
    # create, not mirrored yet): 409, the first one stays, no second object under the
    # salted name.
    first = _precreate(env, "acme", "acme-racy", "acme", "Racy", severity="critical")
    lagging = _lagging_api(env, tmp_path)
    r = lagging.post("/customers/acme/alerts", json=alert_spec("Racy"), headers=ACME)
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == (
        "alert 'Racy' at severity 'critical' already exists; change it with PUT"
    )
    assert env.cr(ALERT, "acme-racy")["spec"] == first["spec"]  # type: ignore[index]
    assert env.cr(ALERT, object_name("acme", "Racy", salted=True)) is None


def test_a_customer_import_never_replaces_another_customers_object(
    env: Env, tmp_path: Path
) -> None:
    """The mirror lags (it does not show globex's object yet): a customer token's import
    of the same name is refused by the cluster check (409 naming it), not written over
    globex's object; an admin's import may move it to another customer."""
    env.cluster.namespace("shared-import", "acme.globex.initech")
    theirs = _precreate(env, "shared-import", "taken", "globex", "Taken")
    lagging = _lagging_api(env, tmp_path, template="shared-import")
    doc = alert_doc("Taken", cid="acme", namespace="shared-import")
    doc["metadata"]["name"] = "taken"
    r = lagging.post("/import", json=[doc], headers=ACME)
    assert r.status_code == 409, r.text
    assert "shared-import/taken" in r.json()["detail"]
    kept = env.cr(ALERT, "taken", "shared-import")
    assert kept is not None and kept["spec"] == theirs["spec"]

    # An admin may move it (to initech: no token of the other tests sees it).
    moving = {**doc, "spec": {**doc["spec"], "customerId": "initech"}}
    moving["spec"]["expr"] = alert_spec(customer="initech")["expr"]
    r = lagging.post("/import", json=[moving], headers=ADMIN)
    assert r.status_code == 200, r.text
    moved = env.cr(ALERT, "taken", "shared-import")
    assert moved is not None and moved["spec"]["customerId"] == "initech"


class _HookedClient(KubeClient):
    """The API's client, running `hook` before its first request of `method` (not a dry
    run), or after it with `after`: someone else's change at a chosen moment."""

    def __init__(self, env: Env, method: str, hook: Any, after: bool = False) -> None:
        super().__init__(lambda: env.kube.info)
        self.method, self.hook, self.after, self.done = method, hook, after, False

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        due = method == self.method and "dryRun" not in (params or {}) and not self.done
        if due and not self.after:
            self.done = True
            self.hook()
        out = super().request(method, path, body, params, content_type)
        if due and self.after:
            self.done = True
            self.hook()
        return out


def test_undo_of_a_failed_import_is_the_tokens(env: Env, tmp_path: Path) -> None:
    c = env.client
    docs = [alert_doc("UndoA"), alert_doc("UndoB")]
    assert c.post("/import", json=docs, headers=ADMIN).status_code == 200

    def edit_b() -> None:  # someone else changes UndoB between the API's two writes
        cr = env.cr(ALERT, "globex-undob", "globex")
        assert cr is not None
        cr["spec"]["severity"] = "info"
        env.cluster.api.request("PUT", api_path("alertplane.io/v1alpha1", "customeralerts",
                                                "globex", "globex-undob"), cr)  # fmt: skip

    racing = _HookedClient(env, "PUT", edit_b, after=True)
    api = api_app(env.store, racing, env.tokens)
    changed = [{**d, "spec": {**d["spec"], "severity": "warning"}} for d in docs]
    r = api.post("/import", json=changed, headers=ADMIN)
    assert r.status_code == 409, r.text
    assert "changed by someone else meanwhile" in r.json()["detail"]
    a = env.cr(ALERT, "globex-undoa", "globex")
    assert a is not None and a["spec"]["severity"] == "critical"  # restored
    got = wait_for(
        lambda: (lambda rows: rows if len(rows) == 3 else None)(
            env.audit("globex-undoa", GLOBEX, "globex")
        ),
        20,
        "the restore in the audit",
    )
    assert got == [
        ("create", 1, "platform-admin", "import"),
        ("update", 2, "platform-admin", "import"),
        ("update", 3, "platform-admin", "import"),  # the undo: the token's, not a stranger's
    ]
    racing.close()


def test_a_failed_delete_leaves_no_signed_notes(env: Env) -> None:
    """The API's DELETE fails (someone changed the object after the API's signed notes):
    the notes are removed, so a later `kubectl delete` is not credited to the token."""
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Undeleted"), headers=ACME)
    assert r.status_code == 201, r.text
    path = api_path(*ALERTS, "acme", "acme-undeleted")

    def edit() -> None:  # lands between the API's notes (PATCH) and its DELETE
        patch = {"spec": {"severity": "info"}}  # a real change (of the spec), not bookkeeping
        env.cluster.api.request("PATCH", path, patch, None, "application/merge-patch+json")

    racing = _HookedClient(env, "DELETE", edit)
    api = api_app(env.store, racing, env.tokens)
    r = api.delete("/customers/acme/alerts/Undeleted", headers=ACME)
    assert r.status_code == 409, r.text
    cr = env.cr(ALERT, "acme-undeleted")
    assert cr is not None
    notes = cr["metadata"].get("annotations") or {}
    assert not {SIGNATURE, CHANGED_BY, CHANGE_SOURCE, CHANGED_AT} & set(notes), notes
    env.cluster.api.request("DELETE", path)  # the tenant, right after
    got = wait_for(
        lambda: [a for a in env.audit("acme-undeleted") if a[0] == "delete"], 20, "the delete"
    )
    assert got == [("delete", 2, "unknown", "kubernetes")]
    racing.close()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_bookkeeping_between_read_and_write_is_no_conflict(env: Env, method: str) -> None:
    """The operator's status patch lands between the API's read and its PUT,
    or between its delete notes (PATCH) and the DELETE: the object is read again and the
    write made on it (same uid, generation and spec), not answered 409."""
    c = env.client
    name = f"Booked{method.title()}"
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec(name), headers=ACME)
    assert r.status_code == 201, r.text
    cr_name = f"acme-{name.lower()}"
    path = api_path(*ALERTS, "acme", cr_name)

    def bookkeeping() -> None:  # as the operator's: a status patch moves the resourceVersion
        status = {"status": {"lastSyncTime": "2026-01-01T00:00:00Z"}}
        env.cluster.api.request(
            "PATCH", f"{path}/status", status, None, "application/merge-patch+json"
        )

    racing = _HookedClient(env, method, bookkeeping)
    api = api_app(env.store, racing, env.tokens)
    if method == "PUT":
        r = api.put(
            f"/customers/acme/alerts/{name}", json=alert_spec(name, severity="info"), headers=ACME
        )
        assert r.status_code == 200, r.text
        cr = env.cr(ALERT, cr_name)
        assert cr is not None and cr["spec"]["severity"] == "info"
        assert cr["metadata"].get("finalizers"), cr["metadata"]  # the operator's, kept
    else:  # the delete's notes are the first PATCH
        r = api.delete(f"/customers/acme/alerts/{name}", headers=ACME)
        assert r.status_code == 204, r.text
        got = wait_for(
            lambda: [a for a in env.audit(cr_name) if a[0] == "delete"], 20, "the delete"
        )
        assert got == [("delete", 1, "acme-team", "api")]
    assert racing.done
    racing.close()


def test_undo_deletes_only_the_object_it_created(env: Env) -> None:
    """An import's later write fails and the undo removes what it created, but not when
    someone deleted that and created the name again meanwhile (another uid)."""
    c = env.client
    assert c.post("/import", json=[alert_doc("KeptB")], headers=ADMIN).status_code == 200
    a_path = api_path(*ALERTS, "globex", "globex-kepta")
    b_path = api_path(*ALERTS, "globex", "globex-keptb")
    theirs: dict[str, Any] = {}

    def swap_a_edit_b() -> None:  # right after the API created KeptA
        env.cluster.api.request("DELETE", a_path)
        wait_for(lambda: env.cr(ALERT, "globex-kepta", "globex") is None, 20, "KeptA gone")
        doc = alert_doc("KeptA")
        doc["metadata"]["namespace"] = "globex"
        doc["spec"]["severity"] = "info"
        theirs.update(env.cluster.api.request("POST", api_path(*ALERTS, "globex"), doc))
        b = env.cr(ALERT, "globex-keptb", "globex")
        assert b is not None
        b["spec"]["severity"] = "info"
        env.cluster.api.request("PUT", b_path, b)

    racing = _HookedClient(env, "POST", swap_a_edit_b, after=True)
    api = api_app(env.store, racing, env.tokens)
    docs = [alert_doc("KeptA"), alert_doc("KeptB")]
    docs[1]["spec"]["severity"] = "warning"
    r = api.post("/import", json=docs, headers=ADMIN)
    assert r.status_code == 409, r.text
    a = env.cr(ALERT, "globex-kepta", "globex")
    # (deleted and waiting for the operator's finalizer counts as deleted)
    assert a is not None and "deletionTimestamp" not in a["metadata"], "the undo deleted it"
    assert a["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert a["spec"]["severity"] == "info"
    racing.close()


def test_forged_api_annotations_are_not_the_tokens(env: Env) -> None:
    """Without the webhook, anyone who may update these objects can write as field manager
    `alertplane-api` with the annotations: without the API's signature that is not believed."""
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Forged"), headers=ACME)
    assert r.status_code == 201
    cr = env.cr(ALERT, "acme-forged")
    assert cr is not None
    assert cr["metadata"]["annotations"]["alertplane.io/signature"].startswith("v2:")
    assert env.audit("acme-forged") == [("create", 1, "acme-team", "api")]

    # A tenant copies all the API's annotations (signature too) onto a spec change, as
    # alertplane-api: another generation and spec, so the signature does not verify.
    forged = {k: v for k, v in cr.items() if k != "status"}
    forged["metadata"] = {k: v for k, v in cr["metadata"].items() if k != "managedFields"}
    forged["metadata"]["annotations"]["alertplane.io/changed-by"] = "platform-admin"
    forged["spec"]["severity"] = "warning"
    path = api_path("alertplane.io/v1alpha1", "customeralerts", "acme", "acme-forged")
    env.cluster.api.request("PUT", path, forged, {"fieldManager": "alertplane-api"})
    got = wait_for(lambda: [a for a in env.audit("acme-forged") if a[1] == 2], 20, "the forgery")
    assert got == [("update", 2, "alertplane-api", "kubernetes")]

    # The API's own next write is the token's again.
    r = c.put("/customers/acme/alerts/Forged", json=alert_spec("Forged"), headers=ACME)
    assert r.status_code == 200, r.text
    got = wait_for(lambda: [a for a in env.audit("acme-forged") if a[1] == 3], 20, "the API")
    assert got == [("update", 3, "acme-team", "api")]

"""The REST API in Kubernetes mode, end to end: every write becomes a custom resource on a
real kube-apiserver, the operator (a process, files sink, tenant binding, mirroring into a
real PostgreSQL) syncs it, and the API reads the mirror.

The cluster, operator and API are tests/support/api_k8s_env.py's, shared with the console's tests
(test_console_kubernetes.py); each test uses its own objects. The API talks to the cluster
with the ServiceAccount and RBAC the Helm chart renders for it (`api.enabled`), so a missing
permission fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import kopf
import pytest
from fastapi.testclient import TestClient

from alertplane.api.objects import object_name
from alertplane.k8s.changes import CHANGE_SOURCE, CHANGED_AT, CHANGED_BY
from alertplane.k8s.client import ApiError, KubeClient, api_path
from alertplane.k8s.signing import SIGNATURE
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.api_env import ACME, ACME_TOKEN, ADMIN, GLOBEX, alert_spec, receiver_spec
from tests.support.api_k8s_env import Env, api_app, write_tokens
from tests.support.operator_env import wait_for
from tests.support.paths import EXAMPLES
from tests.support.processes import free_port

ALERT, RECEIVER = "CustomerAlert", "CustomerReceiver"


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def test_alert_lifecycle(env: Env) -> None:
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Lifecycle"), headers=ACME)
    assert r.status_code == 201, r.text
    out = r.json()
    name = out["metadata"]["name"]
    assert (name, out["status"]["phase"]) == ("acme-lifecycle", "Synced")
    assert r.headers["Location"] == "/customers/acme/alerts/Lifecycle"
    cr = env.cr(ALERT, name)
    assert cr is not None and cr["spec"]["alertName"] == "Lifecycle"
    notes = cr["metadata"]["annotations"]
    assert notes["alertplane.io/changed-by"] == "acme-team"
    assert notes["alertplane.io/change-source"] == "api"
    managers = {m["manager"] for m in cr["metadata"]["managedFields"]}
    assert "alertplane-api" in managers

    # Read-your-writes without waiting: the answer says Pending, the next GET shows it.
    r = c.post("/customers/acme/alerts", json=alert_spec("NoWait"), headers=ACME)
    assert (r.status_code, r.json()["status"]["phase"]) == (201, "Pending")
    assert c.get("/customers/acme/alerts/NoWait", headers=ACME).status_code == 200
    listed = c.get("/customers/acme/alerts", headers=ACME).json()["items"]
    assert {"Lifecycle", "NoWait"} <= {i["spec"]["alertName"] for i in listed}
    assert (
        c.post("/customers/acme/alerts", json=alert_spec("NoWait"), headers=ACME).status_code == 409
    )

    expr = 'rate(errors_total{customer_id="acme"}[10m]) > 2'
    spec = alert_spec("Lifecycle", expr=expr)
    r = c.put("/customers/acme/alerts/Lifecycle?wait=true", json=spec, headers=ACME)
    assert r.status_code == 200, r.text
    st = r.json()["status"]
    assert (st["phase"], st["observedGeneration"]) == ("Synced", 2)
    assert env.cr(ALERT, name)["spec"]["expr"] == expr  # type: ignore[index]

    r = c.patch(
        "/customers/acme/alerts/Lifecycle/enabled?wait=true", json={"enabled": False}, headers=ACME
    )
    assert (r.status_code, r.json()["status"]["phase"]) == (200, "Disabled"), r.text
    assert env.cr(ALERT, name)["spec"]["enabled"] is False  # type: ignore[index]

    r = c.post(
        "/customers/acme/alerts/Lifecycle/rollback?wait=true", json={"version": 1}, headers=ACME
    )
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 4
    assert r.json()["status"]["phase"] == "Synced"
    assert env.cr(ALERT, name)["spec"]["expr"] == alert_spec()["expr"]  # type: ignore[index]

    assert c.delete("/customers/acme/alerts/Lifecycle", headers=ACME).status_code == 204
    wait_for(lambda: env.cr(ALERT, name) is None, 20, "the CR is gone")
    assert c.get("/customers/acme/alerts/Lifecycle", headers=ACME).status_code == 404
    assert env.audit(name) == [
        ("create", 1, "acme-team", "api"),
        ("update", 2, "acme-team", "api"),
        ("disable", 3, "acme-team", "api"),
        ("rollback", 4, "acme-team", "rollback"),
        ("delete", 4, "acme-team", "api"),
    ]


def test_invalid_input_is_422_with_validates_messages(env: Env) -> None:
    c = env.client
    bad = alert_spec("Leaky", expr="rate(errors_total[5m]) > 1")
    r = c.post("/customers/acme/alerts", json=bad, headers=ACME)
    assert r.status_code == 422, r.text
    manifest = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": {"name": "acme-leaky", "namespace": "acme"},
        "spec": {**bad, "customerId": "acme"},
    }
    judged = c.post("/validate?tools=false", json=manifest, headers=ACME).json()
    assert [p["text"] for p in r.json()["problems"]] == [p["text"] for p in judged["problems"]]
    assert env.cr(ALERT, "acme-leaky") is None

    # Clear secrets never go into a custom resource.
    chat = {"receiverName": "chat", "slack": [{"apiURL": "https://hooks.example/s3cret"}]}
    r = c.post("/customers/acme/receivers", json=chat, headers=ACME)
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem["path"] == "spec.slack[0].apiURL"
    assert "Kubernetes Secret" in problem["hint"] and "s3cret" not in r.text
    assert env.cr(RECEIVER, "acme-chat") is None


def test_receivers_routing_and_isolation(env: Env) -> None:
    c = env.client
    slack = {"apiURLSecretRef": {"name": "acme-slack", "key": "webhook-url"}, "channel": "#ops"}
    chat = {"receiverName": "chat", "slack": [slack]}
    r = c.post("/customers/acme/receivers?wait=true", json=chat, headers=ACME)
    assert (r.status_code, r.json()["status"]["phase"]) == (201, "Synced"), r.text
    r = c.post("/customers/acme/receivers?wait=true", json=receiver_spec("pager"), headers=ACME)
    assert r.status_code == 201
    put = receiver_spec("pager", route={"priority": 5, "match": {"severity": ["critical"]}})
    r = c.put("/customers/acme/receivers/pager?wait=true", json=put, headers=ACME)
    assert (r.status_code, r.json()["status"]["phase"]) == (200, "Synced"), r.text
    assert env.cr(RECEIVER, "acme-pager")["spec"]["route"]["priority"] == 5  # type: ignore[index]

    routes = {"chat": {"priority": 1, "match": {"severity": ["warning"]}}}
    r = c.post("/customers/acme/routing?wait=true", json={"routes": routes}, headers=ACME)
    assert r.status_code == 200, r.text
    assert [i["status"]["phase"] for i in r.json()["items"]] == ["Synced"]
    r = c.post(
        "/customers/acme/routing/test", json={"labels": {"severity": "warning"}}, headers=ACME
    )
    assert r.status_code == 200, r.text
    assert "acme/chat" in r.text

    # Another customer's token sees nothing of acme: 404 as for a customer that does not exist.
    for path in ("/customers/acme/receivers", "/customers/acme/receivers/chat"):
        assert c.get(path, headers=GLOBEX).status_code == 404
    assert c.delete("/customers/acme/receivers/chat", headers=GLOBEX).status_code == 404
    assert env.cr(RECEIVER, "acme-chat") is not None

    assert c.delete("/customers/acme/receivers/chat", headers=ACME).status_code == 204
    assert c.get("/customers/acme/receivers/chat", headers=ACME).status_code == 404
    assert env.audit("acme-chat") == [
        ("create", 1, "acme-team", "api"),
        ("update", 2, "acme-team", "api"),  # the routing change
        ("delete", 2, "acme-team", "api"),
    ]


def _alert_doc(name: str, cid: str = "globex", namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"{cid}-{name.lower()}"}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": meta,
        "spec": {**alert_spec(name, customer=cid), "customerId": cid},
    }


def test_import_all_or_nothing_export_validate(env: Env) -> None:
    c = env.client
    # Valid for alertplane, but one namespace does not exist: the API server's refusal
    # (found by the dry run) means nothing is written.
    docs = [_alert_doc("ImportA"), _alert_doc("ImportB", namespace="nowhere")]
    r = c.post("/import", json=docs, headers=ADMIN)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["applied"] is False
    assert "namespace 'nowhere' does not exist" in body["problems"][0]["text"]
    assert env.cr(ALERT, "globex-importa", "globex") is None

    r = c.post("/validate", json=docs[:1], headers=ADMIN)
    assert (r.status_code, r.json()["valid"]) == (200, True)

    docs = [_alert_doc("ImportA"), _alert_doc("ImportB")]
    r = c.post("/import", json=docs, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert [ch["action"] for ch in r.json()["changes"]] == ["created", "created"]
    for name in ("globex-importa", "globex-importb"):
        assert env.cr(ALERT, name, "globex") is not None
        audit = env.audit(name, GLOBEX, "globex")
        assert audit == [("create", 1, "platform-admin", "import")]
    exported = c.get("/export?customer=globex", headers=ADMIN).json()["items"]
    assert {"globex-importa", "globex-importb"} <= {i["metadata"]["name"] for i in exported}
    customers = c.get("/customers", headers=ADMIN).json()["items"]
    assert "globex" in {i["customerId"] for i in customers}


def test_kubectl_changes_are_not_the_tokens(env: Env) -> None:
    """The annotations the API leaves on an object do not make a later kubectl change the
    token's: only changes `alertplane-api` made itself are attributed to a token."""
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Edited"), headers=ACME)
    assert r.status_code == 201
    cr = env.cr(ALERT, "acme-edited")
    assert cr is not None
    cr["spec"]["severity"] = "warning"
    for key in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
        cr["metadata"].pop(key, None)
    cr.pop("status", None)
    env.cluster.kubectl_apply(cr)
    got = wait_for(
        lambda: [a for a in env.audit("acme-edited") if a[1] == 2], 20, "the kubectl change"
    )
    ((action, _, actor, source),) = got
    assert (action, source) == ("update", "kubernetes")
    assert actor != "acme-team"


def test_errors_of_the_cluster(env: Env, tmp_path: Path) -> None:
    c = env.client
    # A customer without a namespace: 422 naming the namespace and the fix.
    r = c.post("/customers/initech/alerts", json=alert_spec("X", customer="initech"), headers=ADMIN)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert problem["path"] == "metadata.namespace"
    assert "'initech' does not exist" in problem["message"]
    assert "kubectl create namespace initech" in problem["hint"]

    # The API server unreachable: 503 with a clear message, no traceback.
    port = free_port()
    gone = KubeClient(lambda: kopf.ConnectionInfo(server=f"https://127.0.0.1:{port}", token="x"))
    down = api_app(env.store, gone, write_tokens(tmp_path / "tokens.csv"))
    r = down.post("/customers/acme/alerts", json=alert_spec("Down"), headers=ACME)
    assert r.status_code == 503, r.text
    assert "Kubernetes API server is unavailable" in r.json()["detail"]
    assert "Traceback" not in r.text
    # An admin's reads still answer from the database; a customer's need the namespaces'
    # tenant binding (what it may see), so without them they are refused, never unfiltered.
    assert down.get("/customers/acme/alerts", headers=ADMIN).status_code == 200
    r = down.get("/customers/acme/alerts", headers=ACME)
    assert r.status_code == 503, r.text
    assert "tenant binding" in r.json()["detail"]
    gone.close()
    # Without tenant binding (serve --no-tenant-binding) no namespace is read.
    loose = api_app(env.store, gone, write_tokens(tmp_path / "tokens.csv"), tenant_binding=False)
    assert loose.get("/customers/acme/alerts", headers=ACME).status_code == 200


def test_serve_kubernetes_process(env: Env, tmp_path: Path) -> None:
    """`alertplane serve --kubernetes` as deployed: a process with the API's kubeconfig."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "alertplane.cli", "serve", "--kubernetes",
        f"--db={env.db}", f"--tokens={env.tokens}", f"--kubeconfig={env.kubeconfig}",
        f"--platform-config={EXAMPLES / 'platform.yaml'}", f"--port={port}",
        "--customer-namespace={customer}", f"--alertmanager-url=http://127.0.0.1:{free_port()}",
        f"--attribution-key-file={env.key_file}",
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(base), 30, "serve --kubernetes answers")
        # Ready once its database is migrated (the API answers 503 until then).
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 60, "serve ready")
        r = httpx.post(
            f"{base}/customers/acme/alerts?wait=true", json=alert_spec("Served"), headers=ACME
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"]["phase"] == "Synced", r.text
        assert env.cr(ALERT, "acme-served") is not None
        # Signed with the key file the operator has too: the token's.
        assert env.audit("acme-served") == [("create", 1, "acme-team", "api")]
        r = httpx.delete(f"{base}/customers/acme/alerts/Served", headers=ACME)
        assert r.status_code == 204
        # --alertmanager-url reaches /firing (nothing listens there: 502, not "not configured")
        r = httpx.get(f"{base}/customers/acme/firing", headers=ACME)
        assert (r.status_code, r.json()["detail"]) == (
            502,
            "Alertmanager did not answer; retry later",
        )
    finally:
        proc.terminate()
        proc.wait(20)
    assert "Traceback" not in log.read_text(), log.read_text()

    # Without the database to read, it refuses to start and says why.
    no_db = [a for a in cmd if not a.startswith("--db=")]
    environ = {k: v for k, v in os.environ.items() if k != "ALERTPLANE_DB"}
    done = subprocess.run(no_db, capture_output=True, text=True, env=environ, timeout=60)
    assert done.returncode != 0
    assert "--kubernetes needs --db" in done.stderr


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _lagging_api(env: Env, tmp_path: Path, template: str = "{customer}") -> TestClient:
    """An API whose mirror has seen nothing yet: a mirror lagging behind the cluster (here
    an empty database), so only the API server can tell that a name is taken."""
    empty = Store(open_db(f"sqlite:///{tmp_path / 'lagging.db'}"))
    options = {"namespace_template": template, "mirror_wait_s": 0.0}
    return api_app(empty, env.kube, env.tokens, writer_options=options)


def _precreate(env: Env, namespace: str, name: str, cid: str, alert: str) -> dict[str, Any]:
    """As someone else would, straight into the cluster (not through the API)."""
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**alert_spec(alert, customer=cid, severity="warning"), "customerId": cid},
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

    # The same alert created meanwhile (a concurrent create, not mirrored yet): 409, the
    # first one stays, no second object under the salted name.
    first = _precreate(env, "acme", "acme-racy", "acme", "Racy")
    lagging = _lagging_api(env, tmp_path)
    r = lagging.post("/customers/acme/alerts", json=alert_spec("Racy"), headers=ACME)
    assert r.status_code == 409, r.text
    assert "already exists; change it with PUT" in r.json()["detail"]
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
    doc = _alert_doc("Taken", cid="acme", namespace="shared-import")
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
    docs = [_alert_doc("UndoA"), _alert_doc("UndoB")]
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
    assert c.post("/import", json=[_alert_doc("KeptB")], headers=ADMIN).status_code == 200
    a_path = api_path(*ALERTS, "globex", "globex-kepta")
    b_path = api_path(*ALERTS, "globex", "globex-keptb")
    theirs: dict[str, Any] = {}

    def swap_a_edit_b() -> None:  # right after the API created KeptA
        env.cluster.api.request("DELETE", a_path)
        wait_for(lambda: env.cr(ALERT, "globex-kepta", "globex") is None, 20, "KeptA gone")
        doc = _alert_doc("KeptA")
        doc["metadata"]["namespace"] = "globex"
        doc["spec"]["severity"] = "info"
        theirs.update(env.cluster.api.request("POST", api_path(*ALERTS, "globex"), doc))
        b = env.cr(ALERT, "globex-keptb", "globex")
        assert b is not None
        b["spec"]["severity"] = "info"
        env.cluster.api.request("PUT", b_path, b)

    racing = _HookedClient(env, "POST", swap_a_edit_b, after=True)
    api = api_app(env.store, racing, env.tokens)
    docs = [_alert_doc("KeptA"), _alert_doc("KeptB")]
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


ALERTS = "alertplane.io/v1alpha1", "customeralerts"


def _recreate(env: Env, name: str, spec: dict[str, Any], notes: dict[str, str]) -> None:
    """As a tenant could: delete the object, create it again (a new uid) as field manager
    `alertplane-api` with `notes` (copied signed annotations) and `spec`."""
    path = api_path(*ALERTS, "acme", name)
    env.cluster.api.request("DELETE", path)
    wait_for(lambda: env.cr(ALERT, name) is None, 20, "the object deleted")
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": {"name": name, "namespace": "acme", "annotations": notes},
        "spec": spec,
    }
    env.cluster.api.request("POST", api_path(*ALERTS, "acme"), doc, AS_API)


AS_API = {"fieldManager": "alertplane-api"}


def _audit_after_delete(env: Env, name: str, rows: int) -> list[Any]:
    def check() -> list[Any] | None:
        audit = env.audit(name)
        deleted = max(i for i, a in enumerate(audit) if a[0] == "delete")
        after = audit[deleted + 1 :]
        return after if len(after) >= rows else None

    got: list[Any] = wait_for(check, 20, "the recreated object's audit")
    return got


def test_signatures_do_not_survive_delete_and_recreate(env: Env) -> None:
    """A tenant keeps the API's signed annotations of generation N, deletes the object,
    creates it again (new uid), edits it to the same spec at generation N and writes the
    annotations back as `alertplane-api`: not the token's (the uid is signed)."""
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Replay"), headers=ACME)
    assert r.status_code == 201, r.text
    first = env.cr(ALERT, "acme-replay")
    assert first is not None
    warning = alert_spec("Replay", severity="warning")
    r = c.put("/customers/acme/alerts/Replay?wait=true", json=warning, headers=ACME)
    assert r.status_code == 200, r.text
    second = env.cr(ALERT, "acme-replay")
    assert second is not None and second["metadata"]["generation"] == 2
    copied = second["metadata"]["annotations"]

    _recreate(env, "acme-replay", {**first["spec"]}, {})

    def replayed() -> dict[str, Any] | None:
        # Re-read each try: the operator adds its finalizer and status meanwhile (409).
        again = env.cr(ALERT, "acme-replay")
        assert again is not None and again["metadata"]["uid"] != second["metadata"]["uid"]
        replay = {k: v for k, v in again.items() if k != "status"}
        meta = {k: v for k, v in again["metadata"].items() if k != "managedFields"}
        replay["metadata"] = meta
        meta["annotations"] = {**(meta.get("annotations") or {}), **copied}
        replay["spec"] = second["spec"]
        try:
            path = api_path(*ALERTS, "acme", "acme-replay")
            out: dict[str, Any] = env.cluster.api.request("PUT", path, replay, AS_API)
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise
        return out

    out = wait_for(replayed, 20, "the replayed annotations written")
    assert out["metadata"]["generation"] == 2
    got = _audit_after_delete(env, "acme-replay", 2)
    assert got[1] == ("update", 2, "alertplane-api", "kubernetes"), got


def test_a_create_signature_replayed_later_is_not_the_tokens(env: Env) -> None:
    """A create is signed before its uid exists: the operator believes it only near the
    creationTimestamp the API server sets, so a create's annotations copied onto the
    name created again later are not the token's (here: signed 2 minutes ago, as the
    API signs; a fresh one is, as a control)."""
    from datetime import UTC, datetime, timedelta

    from alertplane.k8s.signing import sign
    from tests.support.api_k8s_env import ATTRIBUTION_KEY

    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Recreated"), headers=ACME)
    assert r.status_code == 201, r.text
    cr = env.cr(ALERT, "acme-recreated")
    assert cr is not None

    def create_notes(ago: timedelta) -> dict[str, str]:
        """The API's annotations of a create of this spec made `ago`."""
        at = (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        notes = {CHANGED_BY: "acme-team", CHANGE_SOURCE: "api", CHANGED_AT: at}
        signature = sign(ATTRIBUTION_KEY, namespace="acme", name="acme-recreated",
                         actor="acme-team", source="api", changed_at=at, generation=1,
                         spec=cr["spec"])  # fmt: skip
        return {**notes, SIGNATURE: signature}

    _recreate(env, "acme-recreated", cr["spec"], create_notes(timedelta(minutes=2)))
    assert _audit_after_delete(env, "acme-recreated", 1) == [
        ("create", 1, "alertplane-api", "kubernetes")
    ]
    _recreate(env, "acme-recreated", cr["spec"], create_notes(timedelta(0)))
    assert _audit_after_delete(env, "acme-recreated", 1) == [("create", 1, "acme-team", "api")]


def _squat(env: Env, name: str) -> dict[str, Any]:
    """What anyone with ordinary RBAC in namespace globex can do: a receiver claiming to
    be acme's, in globex's namespace (bound to globex only). The operator marks it Invalid."""
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": RECEIVER,
        "metadata": {"name": f"acme-{name}", "namespace": "globex"},
        "spec": {**receiver_spec(name), "customerId": "acme"},
    }
    env.cluster.kubectl_apply(doc)
    env.cluster.wait_phase(RECEIVER, "globex", f"acme-{name}", ("Invalid",))
    # ... and the operator mirrors it (customer_id acme, namespace globex).
    wait_for(lambda: env.store.find(_ref(name)), 20, "the squatter in the mirror")
    return doc


def _ref(name: str) -> Any:
    from alertplane.errors import ObjectRef

    return ObjectRef(RECEIVER, "globex", f"acme-{name}")


def test_objects_in_namespaces_not_bound_to_the_customer_are_not_its(env: Env) -> None:
    from tests.support.console import browser

    c = env.client
    _squat(env, "oncall")

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
    doc = _alert_doc("Astray", cid="acme", namespace="unbound-i")
    r = env.client.post("/import", json=[doc], headers=ADMIN)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert 'namespace "unbound-i" has no label alertplane.io/customer' in problem["text"]
    assert env.cr(ALERT, "acme-astray", "unbound-i") is None

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

import httpx
import kopf
import pytest

from alertplane.kube.client import KubeClient
from tests.support.api_env import ACME, ADMIN, GLOBEX, alert_spec, receiver_spec
from tests.support.api_k8s_env import (
    ALERT,
    RECEIVER,
    Env,
    alert_doc,
    answers,
    api_app,
    write_tokens,
)
from tests.support.operator_env import wait_for
from tests.support.paths import EXAMPLES
from tests.support.processes import free_port


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


def test_import_all_or_nothing_export_validate(env: Env) -> None:
    c = env.client
    # Valid for alertplane, but one namespace does not exist: the API server's refusal
    # (found by the dry run) means nothing is written.
    docs = [alert_doc("ImportA"), alert_doc("ImportB", namespace="nowhere")]
    r = c.post("/import", json=docs, headers=ADMIN)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["applied"] is False
    assert "namespace 'nowhere' does not exist" in body["problems"][0]["text"]
    assert env.cr(ALERT, "globex-importa", "globex") is None

    r = c.post("/validate", json=docs[:1], headers=ADMIN)
    assert (r.status_code, r.json()["valid"]) == (200, True)

    docs = [alert_doc("ImportA"), alert_doc("ImportB")]
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
        wait_for(lambda: answers(base), 30, "serve --kubernetes answers")
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


def test_recording_rule_lifecycle(env: Env) -> None:
    """Issue 14 §2 in Kubernetes mode: the API's writes of a recording rule become a
    CustomerRecordingRule custom resource the operator syncs; another customer sees none."""
    from tests.support.api_env import record_spec

    c = env.client
    base = "/customers/acme/recordingrules"
    r = c.post(f"{base}?wait=true", json=record_spec("job:k8s:rate5m"), headers=ACME)
    assert r.status_code == 201, r.text
    out = r.json()
    name = out["metadata"]["name"]
    assert out["status"]["phase"] == "Synced", out["status"]
    cr = env.cr("CustomerRecordingRule", name)
    assert cr is not None and cr["spec"]["record"] == "job:k8s:rate5m"
    assert cr["metadata"]["annotations"]["alertplane.io/changed-by"] == "acme-team"
    spec = record_spec("job:k8s:rate5m", labels={"team": "web"})
    r = c.put(f"{base}/job:k8s:rate5m?wait=true", json=spec, headers=ACME)
    assert (r.status_code, r.json()["status"]["phase"]) == (200, "Synced"), r.text
    assert env.cr("CustomerRecordingRule", name)["spec"]["labels"] == {"team": "web"}  # type: ignore[index]
    assert c.get(f"{base}/job:k8s:rate5m", headers=GLOBEX).status_code == 404
    assert c.delete(f"{base}/job:k8s:rate5m", headers=ACME).status_code == 204
    wait_for(lambda: env.cr("CustomerRecordingRule", name) is None, 20, "the CR is gone")

"""The REST API in Kubernetes mode, end to end: every write becomes a custom resource on a
real kube-apiserver, the operator (a process, files sink, tenant binding, mirroring into a
real PostgreSQL) syncs it, and the API reads the mirror.

One API server, one operator and one API (in-process TestClient over `KubeWriter`, as
`alertplane serve --kubernetes` builds it) serve the whole module; each test uses its own
objects. The API talks to the cluster with the ServiceAccount and RBAC the Helm chart
renders for it (`api.enabled`), so a missing permission fails here.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kopf
import pytest
from fastapi.testclient import TestClient

from alertplane.api.app import create_app
from alertplane.api.context import ApiSettings
from alertplane.api.kube import KubeWriter
from alertplane.api.tokens import token_line
from alertplane.errors import ObjectRef
from alertplane.k8s.changes import Change, api_change, service_account_user
from alertplane.k8s.client import KubeClient
from alertplane.k8s.state import DELETE, ClusterState
from alertplane.render.platform import load_platform_config
from alertplane.stack.processes import Postgres, free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.api_env import ACME, ADMIN, GLOBEX, TOKENS, alert_spec, receiver_spec
from tests.chart_env import RBAC_KINDS, render
from tests.conftest import EXAMPLES
from tests.k8s_env import KubeEnv
from tests.operator_env import Cluster, OperatorProcess, wait_for

ALERT, RECEIVER = "CustomerAlert", "CustomerReceiver"
YAML = {"Content-Type": "application/yaml"}
_dbs = itertools.count()
API_NS = "alertplane-system"
CHART_VALUES = {
    "api": {"enabled": True, "tokensSecret": "tokens"},
    "database": {"existingSecret": "db"},
}


class Env:
    def __init__(
        self, cluster: Cluster, client: TestClient, store: Store, db: str, kubeconfig: Path
    ) -> None:
        self.cluster, self.client, self.store, self.db = cluster, client, store, db
        self.kubeconfig = kubeconfig  # the API ServiceAccount's
        self.tokens = Path()

    def cr(self, kind: str, name: str, namespace: str = "acme") -> dict[str, Any] | None:
        return self.cluster.get(kind, namespace, name)

    def audit(self, name: str, token: dict[str, str] = ACME, cid: str = "acme") -> list[Any]:
        r = self.client.get(f"/customers/{cid}/audit?name={name}", headers=token)
        assert r.status_code == 200, r.text
        return [(a["action"], a["generation"], a["actor"], a["source"]) for a in r.json()["items"]]


def api_app(store: Store, client: KubeClient, tokens: Path, **settings: Any) -> TestClient:
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    writer = KubeWriter(client, store)
    api = ApiSettings.from_file(tokens, **settings)
    app = create_app(None, api, store, writer=writer, platform=platform)
    return TestClient(app, raise_server_exceptions=False)


def api_account(kube: KubeEnv) -> str:
    """A token of the API's ServiceAccount with the RBAC the chart renders for it, nothing
    else (the operator's account and RBAC are not applied)."""
    docs = render(CHART_VALUES, "apitest", API_NS)
    api_rbac = [
        d
        for d in docs
        if d["kind"] in RBAC_KINDS
        and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "api"
    ]
    (account,) = [d["metadata"]["name"] for d in api_rbac if d["kind"] == "ServiceAccount"]
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": API_NS}}, *api_rbac)
    return kube.create_token(API_NS, account, create=False)


@pytest.fixture(scope="module")
def env(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("api-k8s")
    db = postgres.create_database(f"api_k8s_{next(_dbs)}")
    with KubeEnv() as kube:
        cluster = Cluster(kube)
        cluster.install_crds()
        for cid in ("acme", "globex"):
            cluster.namespace(cid, cid)
        cluster.secret("acme", "acme-slack", {"webhook-url": "https://hooks.slack.example/x"})
        op = OperatorProcess(
            kube,
            [
                "--sink=files",
                f"--out={tmp / 'out'}",
                f"--db={db}",
                f"--platform-config={EXAMPLES / 'platform.yaml'}",
            ],
            tmp / "operator.log",
        ).start()
        tokens = tmp / "tokens.csv"
        tokens.write_text(
            "".join(token_line(name, role, tok) + "\n" for tok, name, role in TOKENS.values())
        )
        sa = api_account(kube)
        client = KubeClient(
            lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_file), token=sa)
        )
        store = Store(open_db(db))
        try:
            kubeconfig = kube.write_kubeconfig(sa, tmp / "api.kubeconfig", user="api")
            out = Env(cluster, api_app(store, client, tokens), store, db, kubeconfig)
            out.tokens = tokens
            yield out
        finally:
            client.close()
            op.stop()
            store.sessions.kw["bind"].dispose()
        op.assert_no_forbidden()


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
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        "".join(token_line(name, role, tok) + "\n" for tok, name, role in TOKENS.values())
    )
    down = api_app(env.store, gone, tokens)
    r = down.post("/customers/acme/alerts", json=alert_spec("Down"), headers=ACME)
    assert r.status_code == 503, r.text
    assert "Kubernetes API server is unavailable" in r.json()["detail"]
    assert "Traceback" not in r.text
    # Reads still answer from the database.
    assert down.get("/customers/acme/alerts", headers=ACME).status_code == 200
    gone.close()


def test_serve_kubernetes_process(env: Env, tmp_path: Path) -> None:
    """`alertplane serve --kubernetes` as deployed: a process with the API's kubeconfig."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "alertplane.cli", "serve", "--kubernetes",
        f"--db={env.db}", f"--tokens={env.tokens}", f"--kubeconfig={env.kubeconfig}",
        f"--platform-config={EXAMPLES / 'platform.yaml'}", f"--port={port}",
        "--customer-namespace={customer}",
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(base), 30, "serve --kubernetes answers")
        assert httpx.get(f"{base}/readyz").status_code == 200
        r = httpx.post(
            f"{base}/customers/acme/alerts?wait=true", json=alert_spec("Served"), headers=ACME
        )
        assert (r.status_code, r.json()["status"]["phase"]) == (201, "Synced"), r.text
        assert env.cr(ALERT, "acme-served") is not None
        r = httpx.delete(f"{base}/customers/acme/alerts/Served", headers=ACME)
        assert r.status_code == 204
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


# -- who made a change: the operator's reading of the API's annotations (no cluster) ------

NOTES = {"alertplane.io/changed-by": "acme-team", "alertplane.io/change-source": "api"}
OWNS_NOTES = {"f:metadata": {"f:annotations": {f"f:{k}": {} for k in NOTES}}}


def _mf(manager: str, time: str, *fields: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in fields:
        merged.update(f)
    return {"manager": manager, "operation": "Update", "time": time, "fieldsV1": merged}


SPEC = {"f:spec": {"f:expr": {}}}


@pytest.mark.parametrize(
    ("managed", "deleting", "expected"),
    [
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES)], False,
         ("acme-team", "api")),
        # kubectl changed the spec after the API: the annotations are stale, not believed.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES),
          _mf("kubectl-edit", "2026-01-01T00:00:05Z", SPEC)], False, None),
        # Someone wrote the annotations themselves (they own them): forged, not believed.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC),
          _mf("kubectl-annotate", "2026-01-01T00:00:05Z", OWNS_NOTES)], False, None),
        # A delete: the API's last update (annotations only) is the newest change.
        ([_mf("kubectl-client-side-apply", "2026-01-01T00:00:01Z", SPEC),
          _mf("alertplane-api", "2026-01-01T00:00:09Z", OWNS_NOTES),
          _mf("alertplane", "2026-01-01T00:00:10Z", {"f:metadata": {"f:finalizers": {}}})],
         True, ("acme-team", "api")),
        # ... but not when someone else changed the object after it.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES),
          _mf("kubectl-label", "2026-01-01T00:00:05Z", {"f:metadata": {"f:labels": {}}})],
         True, None),
    ],
    ids=["api-write", "kubectl-after", "forged-annotations", "api-delete", "other-after"],
)  # fmt: skip
def test_api_annotations_count_only_for_the_apis_own_changes(
    managed: list[dict[str, Any]], deleting: bool, expected: tuple[str, str] | None
) -> None:
    meta = {"annotations": dict(NOTES), "managedFields": managed}
    assert api_change(meta, deleting) == expected
    assert api_change({"managedFields": managed}, deleting) is None  # no annotations


API_USER = service_account_user("alertplane-system/alertplane-api")
API_WRITE = [_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES)]


@pytest.mark.parametrize(
    ("api_user", "admitted", "expected"),
    [
        # Webhook on, the API's account known: its own admitted change is the token's.
        (API_USER, API_USER, ("acme-team", "api")),
        # Someone else wrote as field manager alertplane-api with the annotations: the
        # webhook saw who it was, and that user is recorded.
        (API_USER, "kubeenv-admin", ("kubeenv-admin", "kubernetes")),
        # Nobody admitted it (webhook failurePolicy Ignore, or not called): not believed.
        (API_USER, "", ("alertplane-api", "kubernetes")),
        # Without --api-service-account only the managedFields rule applies.
        (None, "kubeenv-admin", ("acme-team", "api")),
    ],
    ids=["api-account", "other-user", "not-admitted", "no-account-flag"],
)
def test_api_annotations_need_the_apis_account_when_known(
    api_user: str | None, admitted: str, expected: tuple[str, str]
) -> None:
    state = ClusterState(api_user=api_user)
    seen: list[Change] = []
    state.on_change.append(seen.append)
    doc = _alert_doc("Trust", cid="acme", namespace="acme")
    ref = ObjectRef(ALERT, "acme", "acme-trust")
    meta = {"uid": "u1", "generation": 1, "annotations": dict(NOTES), "managedFields": API_WRITE}
    doc["metadata"].update(meta)
    if admitted:
        state.admitted(ref, 1, admitted)
    state.observe(doc)
    assert [(c.actor, c.source) for c in seen] == [expected]

    # The delete: the API's last update names the token; the DELETE's admitted user decides.
    notes_update = _mf("alertplane-api", "2026-01-01T00:00:09Z", OWNS_NOTES)
    if admitted:
        state.admitted(ref, DELETE, admitted)
    gone = {**meta, "managedFields": [*API_WRITE, notes_update]}
    state.forget(ALERT, "acme", "acme-trust", gone)
    deleter = ("unknown", "kubernetes") if expected[0] == "alertplane-api" else expected
    assert [(c.actor, c.source, c.spec) for c in seen[1:]] == [(*deleter, None)]


def test_api_service_account_flag_needs_the_webhook(tmp_path: Path) -> None:
    def operator(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "alertplane.cli", "operator", "--sink=configmap", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    done = operator("--api-service-account=alertplane-system/alertplane-api")
    assert done.returncode != 0
    assert "--api-service-account needs the admission webhook" in done.stderr
    assert "Traceback" not in done.stderr
    cert = tmp_path / "x"
    cert.write_text("")
    hook = [f"--webhook-port={free_port()}", f"--webhook-cert={cert}", f"--webhook-key={cert}"]
    done = operator("--api-service-account=alertplane-api", *hook)
    assert done.returncode != 0 and "not NAMESPACE/NAME" in done.stderr

"""The REST API and console in Kubernetes mode against a real cluster: a kube-apiserver,
the operator as a process (files sink, tenant binding, mirroring into PostgreSQL) and the
API (in-process TestClient over `KubeWriter`, as `alertplane serve --kubernetes` builds
it), talking to the cluster with the ServiceAccount and RBAC the Helm chart renders for it.

One of these serves a whole test session (tests/conftest.py `kube_api`): the API tests
(test_api_kubernetes.py) and the console tests (test_console_kubernetes.py) share it, each
test with objects of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kopf
from fastapi.testclient import TestClient

from alertplane.kube.client import KubeClient
from alertplane.kube.namespaces import NamespaceBindings
from alertplane.kube.writer import KubeWriter
from alertplane.render.platform import load_platform_config
from alertplane.service.context import ApiSettings
from alertplane.service.tokens import token_line
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.web import create_app
from tests.support.api_env import ACME, TOKENS, alert_spec, receiver_spec
from tests.support.chart_env import RBAC_KINDS, render
from tests.support.k8s_env import KubeEnv
from tests.support.operator_env import Cluster, OperatorProcess, wait_for
from tests.support.paths import EXAMPLES
from tests.support.processes import Postgres

ALERT, RECEIVER = "CustomerAlert", "CustomerReceiver"

API_NS = "alertplane-system"
# Shared by the operator (--attribution-key-file) and the API (KubeWriter key), as the
# chart's attribution key Secret is: the API's audit annotations are signed and verified.
ATTRIBUTION_KEY = b"test-attribution-key-0123456789abcdef"
CHART_VALUES = {
    "api": {"enabled": True, "tokensSecret": "tokens"},
    "database": {"existingSecret": "db"},
}


class Env:
    def __init__(
        self,
        cluster: Cluster,
        kube: KubeClient,
        store: Store,
        db: str,
        kubeconfig: Path,
        tokens: Path,
        out: Path,
        key_file: Path,
    ) -> None:
        self.cluster, self.kube, self.store, self.db = cluster, kube, store, db
        self.kubeconfig = kubeconfig  # the API ServiceAccount's
        self.tokens = tokens
        self.key_file = key_file  # the attribution key, as a file for processes
        self.out = out  # the operator's files sink: rules/ and alertmanager.yml
        self.client = self.app()

    def app(self, **settings: Any) -> TestClient:
        """Another API over the same cluster and mirror (`settings`: ApiSettings')."""
        return api_app(self.store, self.kube, self.tokens, **settings)

    def cr(self, kind: str, name: str, namespace: str = "acme") -> dict[str, Any] | None:
        return self.cluster.get(kind, namespace, name)

    def audit(self, name: str, token: dict[str, str] = ACME, cid: str = "acme") -> list[Any]:
        r = self.client.get(f"/customers/{cid}/audit?name={name}", headers=token)
        assert r.status_code == 200, r.text
        return [(a["action"], a["generation"], a["actor"], a["source"]) for a in r.json()["items"]]


def write_tokens(path: Path) -> Path:
    path.write_text(
        "".join(token_line(name, role, tok) + "\n" for tok, name, role in TOKENS.values())
    )
    return path


def api_app(
    store: Store,
    client: KubeClient,
    tokens: Path,
    key: bytes | None = ATTRIBUTION_KEY,
    writer_options: dict[str, Any] | None = None,
    tenant_binding: bool = True,
    namespace_template: str | None = None,
    **settings: Any,
) -> TestClient:
    """`writer_options`: KubeWriter's (namespace_template, mirror_wait_s)."""
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    options = dict(writer_options or {})
    if namespace_template is not None:
        options["namespace_template"] = namespace_template
    writer = KubeWriter(client, store, key=key, **options)
    bindings = NamespaceBindings(client) if tenant_binding else None
    api = ApiSettings.from_file(tokens, **settings)
    app = create_app(None, api, store, writer=writer, platform=platform, bindings=bindings)
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


@contextlib.contextmanager
def kube_api_env(postgres: Postgres, tmp: Path, db_name: str) -> Iterator[Env]:
    db = postgres.create_database(db_name)
    with KubeEnv() as kube:
        cluster = Cluster(kube)
        cluster.install_crds()
        for cid in ("acme", "globex"):
            cluster.namespace(cid, cid)
        cluster.secret("acme", "acme-slack", {"webhook-url": "https://hooks.slack.example/x"})
        key_file = tmp / "attribution.key"
        key_file.write_bytes(ATTRIBUTION_KEY + b"\n")
        op = OperatorProcess(
            kube,
            [
                "--sink=files",
                f"--out={tmp / 'out'}",
                f"--db={db}",
                f"--platform-config={EXAMPLES / 'platform.yaml'}",
                f"--attribution-key-file={key_file}",
            ],
            tmp / "operator.log",
        ).start()
        tokens = write_tokens(tmp / "tokens.csv")
        sa = api_account(kube)
        client = KubeClient(
            lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_file), token=sa)
        )
        store = Store(open_db(db))
        try:
            kubeconfig = kube.write_kubeconfig(sa, tmp / "api.kubeconfig", user="api")
            yield Env(cluster, client, store, db, kubeconfig, tokens, tmp / "out", key_file)
        finally:
            client.close()
            op.stop()
            store.sessions.kw["bind"].dispose()
        op.assert_no_forbidden()


def answers(base: str) -> bool:
    """`alertplane serve` at `base` answers /healthz."""
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alert_doc(name: str, cid: str = "globex", namespace: str | None = None) -> dict[str, Any]:
    """A CustomerAlert manifest for /import (`namespace` only when given)."""
    meta: dict[str, Any] = {"name": f"{cid}-{name.lower()}"}
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": meta,
        "spec": {**alert_spec(name, customer=cid), "customerId": cid},
    }


ALERTS = "alertplane.io/v1alpha1", "customeralerts"


def squat(env: Env, name: str) -> dict[str, Any]:
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

"""The Helm chart (charts/alertplane): lint, render, schema, and a real API server.

helm is built from its Go module by hack/helm/build.sh (tests/support/chart_env.py). Rendered
manifests are checked in Python, then sent to a real kube-apiserver (tests/support/k8s_env.py) with
`kubectl apply --dry-run=server`, and one release per sink layout is installed for real so
its ServiceAccount's token can be tested against the RBAC it got. The RBAC expected here is
what the operator calls (grep k8s/ and sinks/ for KubeClient calls); the operator e2e tests
(tests/e2e/test_operator*.py) run the operator with RBAC rendered from this chart and fail
on any 403, so the rules are proven enough there and exact here.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
import yaml

from alertplane.errors import ObjectRef
from alertplane.k8s.client import ApiError, KubeClient, api_path
from alertplane.k8s.handlers import WEBHOOK_OPERATIONS, Handlers, webhook_id
from alertplane.k8s.objects import MANAGED_BY, ManagedObjects
from alertplane.k8s.publish import add_finalizer, object_path, remove_finalizer
from alertplane.k8s.state import PLURALS
from alertplane.model.common import API_VERSION
from tests.support import chart_env
from tests.support.chart_env import CHART
from tests.support.k8s_env import KubeEnv
from tests.support.paths import ROOT

PROMOP_CRDS = ROOT / "hack" / "k8s" / "promop-crds.sh"
SYNC = "hack/helm/sync-chart-files.sh"

RELEASE = "ap"
NS = "alertplane-system"
FULLNAME = "ap-alertplane"

Doc = dict[str, Any]
Rules = set[tuple[str, str, str]]  # (apiGroup, resource, verb)

# What the operator calls (charts/alertplane/README.md "Permissions"), expanded.
# Tenant binding, cluster-wide (kopf watches cluster-scoped kinds cluster-wide even in
# namespace mode); `get` only in namespace mode, where the watched namespaces are read by name.
NAMESPACE_RULES: Rules = {("", "namespaces", "list"), ("", "namespaces", "watch")}
NAMESPACE_GET: Rules = {("", "namespaces", "get")}
# In every watched namespace (a ClusterRole when cluster-wide): watch, finalizer (get +
# patch), status, Warning Events.
CR_RULES: Rules = {
    (g, r, v)
    for g, r, verbs in [
        ("alertplane.io", "customeralerts", "get list watch patch"),
        ("alertplane.io", "customerreceivers", "get list watch patch"),
        ("alertplane.io", "customeralerts/status", "patch"),
        ("alertplane.io", "customerreceivers/status", "patch"),
        ("", "events", "create"),
    ]
    for v in verbs.split()
}
# prometheus-operator sink: the Secrets receivers reference, read by name to be copied.
SECRET_READ: Rules = {("", "secrets", "get")}
# The sink namespace: one list at start, server-side apply (create or patch), delete.
WRITE = ["list", "create", "patch", "delete"]
SINK_RULES: dict[str, Rules] = {
    "files": set(),
    "configmap": {("", "configmaps", v) for v in WRITE},
    "prometheus-operator": {
        (g, r, v)
        for g, r in [
            ("monitoring.coreos.com", "prometheusrules"),
            ("monitoring.coreos.com", "alertmanagerconfigs"),
            ("", "secrets"),
        ]
        for v in WRITE
    },
}


def watched_rules(sink: str) -> Rules:
    return CR_RULES | (SECRET_READ if sink == "prometheus-operator" else set())


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    try:
        return chart_env.helm_bin()
    except chart_env.HelmError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return chart_env.helm_env(tmp_path_factory.mktemp("helm-home"))


class Helm:
    def __init__(self, binary: Path, env: dict[str, str], tmp: Path) -> None:
        self.binary, self.env, self.tmp = binary, env, tmp
        self._n = 0

    def run(
        self, *args: str, values: Doc | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.binary), *args]
        if values is not None:
            self._n += 1
            path = self.tmp / f"values-{self._n}.yaml"
            path.write_text(yaml.safe_dump(values))
            cmd += ["-f", str(path)]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env={**self.env, **(env or {})}
        )

    def template_text(self, values: Doc | None = None, namespace: str = NS) -> str:
        proc = self.run("template", RELEASE, str(CHART), "-n", namespace, values=values)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def template(self, values: Doc | None = None, namespace: str = NS) -> list[Doc]:
        return [d for d in yaml.safe_load_all(self.template_text(values, namespace)) if d]

    def template_error(self, values: Doc) -> str:
        proc = self.run("template", RELEASE, str(CHART), "-n", NS, values=values)
        assert proc.returncode != 0, f"rendered although it should not:\n{proc.stdout[:2000]}"
        return proc.stderr


@pytest.fixture(scope="session")
def helm(
    helm_bin: Path, helm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Helm:
    return Helm(helm_bin, helm_env, tmp_path_factory.mktemp("helm-values"))


def one(docs: list[Doc], kind: str, name: str | None = None, namespace: str | None = None) -> Doc:
    found = [
        d
        for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return found[0]


def kinds(docs: list[Doc]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def container(docs: list[Doc]) -> Doc:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["operator"]
    result: Doc = pod["containers"][0]
    return result


def argv(docs: list[Doc]) -> list[str]:
    c = container(docs)
    return [*c["command"], *c["args"]]


def rules(role: Doc) -> Rules:
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def flat(rules_: Rules) -> list[str]:
    return sorted(f"{g or 'core'}/{r}:{v}" for g, r, v in rules_)


# -- files the chart copies ----------------------------------------------------------------


def test_chart_crds_are_the_generated_crds() -> None:
    repo = {p.name: p.read_bytes() for p in sorted((ROOT / "crds").glob("*.yaml"))}
    chart = {p.name: p.read_bytes() for p in sorted((CHART / "crds").glob("*.yaml"))}
    assert repo, "crds/ holds no CRDs: generate them (alertplane crds --out crds)"
    assert chart.keys() == repo.keys(), f"chart crds/ differs from crds/ in files; run {SYNC}"
    for name in repo:
        assert chart[name] == repo[name], f"charts/alertplane/crds/{name} is stale; run {SYNC}"


def test_chart_self_rules_are_deploy_self_rules(helm: Helm) -> None:
    source = ROOT / "deploy" / "alertplane-self.rules.yml"
    copy = CHART / "files" / "alertplane-self.rules.yml"
    assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale; run {SYNC}"
    rule = one(helm.template({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(source.read_text())


def test_every_value_is_documented_in_the_readme() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())

    FREE_FORM = ("resources", "podSecurityContext", "securityContext", "platform")

    def leaves(d: Doc, prefix: str = "") -> Iterator[str]:
        for k, v in d.items():
            # Maps of free-form content (labels, resources, platform) are documented as one row.
            if isinstance(v, dict) and v and k not in FREE_FORM:
                yield from leaves(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"

    keys = list(leaves(values))
    assert "webhook.certManager.issuerRef" in keys and "sink.files.out" in keys
    undocumented = [k for k in keys if f"| `{k}` |" not in readme]
    assert not undocumented, f"values missing from the README table: {undocumented}"
    assert set(values) | {"global"} == set(schema["properties"]), "schema and values.yaml differ"


# -- lint and render -----------------------------------------------------------------------

ALL_ON: Doc = {
    "watchNamespaces": ["team-a", "team-b"],
    "sink": {"type": "configmap", "namespace": "monitoring"},
    "database": {"existingSecret": "alertplane-db"},
    "webhook": {"enabled": True},
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "platform": {"alertmanager": {"route": {"group_by": ["customer_id", "alertname"]}}},
}


@pytest.mark.parametrize("values", [None, ALL_ON], ids=["defaults", "everything-on"])
def test_helm_lint_strict(helm: Helm, values: Doc | None) -> None:
    for strict in ([], ["--strict"]):
        proc = helm.run("lint", *strict, str(CHART), values=values)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "0 chart(s) failed" in proc.stdout


def test_default_render(helm: Helm) -> None:
    docs = helm.template()
    assert kinds(docs) == [
        "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment",
        "Role", "RoleBinding", "Service", "ServiceAccount",
    ]  # fmt: skip
    assert all(d["metadata"]["name"].startswith(FULLNAME) for d in docs)
    for d in docs:
        if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == NS, d["kind"]

    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME
    c = container(docs)
    assert c["image"] == "ghcr.io/alertplane/alertplane:0.1.0"
    assert argv(docs) == [
        "alertplane", "operator",
        "--sink=prometheus-operator", f"--sink-namespace={NS}",
        "--tenant-binding", "--metrics-port=8080", "--resync-interval=300",
    ]  # fmt: skip
    assert c["env"] == [
        {"name": "ALERTPLANE_PLATFORM_CONFIG", "value": "/etc/alertplane/platform.yaml"}
    ]
    assert c["ports"] == [{"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}

    # Hardened: non-root, read-only root, no capabilities; writable only where needed.
    assert c["securityContext"] == {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert set(mounts) == {"/etc/alertplane/platform.yaml", "/tmp", "/var/lib/alertplane"}
    assert mounts["/etc/alertplane/platform.yaml"]["readOnly"] is True
    assert c["workingDir"] == "/var/lib/alertplane"

    svc = one(docs, "Service")
    assert svc["spec"]["ports"] == [
        {"name": "http-metrics", "port": 8080, "targetPort": "http-metrics", "protocol": "TCP"}
    ]
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert labels.items() >= svc["spec"]["selector"].items()

    platform = one(docs, "ConfigMap", f"{FULLNAME}-platform")
    assert yaml.safe_load(platform["data"]["platform.yaml"]) == {}


def test_rbac_is_exactly_what_the_operator_needs(helm: Helm) -> None:
    docs = helm.template()
    cluster_role = one(docs, "ClusterRole")
    assert flat(rules(cluster_role)) == flat(NAMESPACE_RULES | watched_rules("prometheus-operator"))
    sink_role = one(docs, "Role", f"{FULLNAME}-sink", NS)
    assert flat(rules(sink_role)) == flat(SINK_RULES["prometheus-operator"])
    subject = {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}
    for binding, role in (("ClusterRoleBinding", cluster_role), ("RoleBinding", sink_role)):
        b = one(docs, binding)
        assert b["subjects"] == [subject]
        assert b["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role["kind"],
            "name": role["metadata"]["name"],
        }
    # No wildcards, no update (server-side apply and merge patches only), no watch beyond
    # what kopf watches, never create/delete custom resources; Secrets: get by name where
    # the custom resources are, and only the sink's own in the sink namespace.
    for role in (cluster_role, sink_role):
        for g, r, v in rules(role):
            assert "*" not in (g, r, v)
            assert v not in ("update", "deletecollection", "escalate", "bind", "impersonate")
            assert v != "watch" or r in ("namespaces", "customeralerts", "customerreceivers")
            assert not (g == "alertplane.io" and v in ("create", "delete"))
    assert {v for g, r, v in rules(cluster_role) if r == "secrets"} == {"get"}
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "Role")
                for rule in d["rules"] if "apiextensions.k8s.io" in rule["apiGroups"]]  # fmt: skip


def test_rbac_follows_tenant_binding(helm: Helm) -> None:
    # Off: no Namespace access at all; cluster-wide the ClusterRole keeps the custom resources.
    docs = helm.template({"tenantBinding": False, "sink": {"type": "configmap"}})
    assert flat(rules(one(docs, "ClusterRole"))) == flat(watched_rules("configmap"))
    # Off with watchNamespaces: nothing cluster-wide is needed, so no ClusterRole (binding).
    docs = helm.template({"tenantBinding": False, "watchNamespaces": ["team-a"]})
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = one(docs, "Role", FULLNAME, "team-a")
    assert flat(rules(role)) == flat(watched_rules("prometheus-operator"))
    assert one(docs, "RoleBinding", FULLNAME, "team-a")["roleRef"]["name"] == FULLNAME
    assert one(docs, "Role", f"{FULLNAME}-sink", NS)


# `alertplane serve --kubernetes`: read one object, create, replace, annotate before a
# delete, delete. No list/watch (it reads the operator's database), no status, no Secrets.
API_RULES: Rules = {
    ("alertplane.io", r, v)
    for r in ("customeralerts", "customerreceivers")
    for v in ("get", "create", "update", "patch", "delete")
}
# Tenant binding: the namespaces' alertplane.io/customer label (one list, cached briefly),
# cluster-wide in every mode (its own ClusterRole).
API_NAMESPACE_RULES: Rules = {("", "namespaces", "list")}
API_ON: Doc = {"api": {"enabled": True, "tokensSecret": "api-tokens"},
               "database": {"existingSecret": "alertplane-db"}}  # fmt: skip
API = f"{FULLNAME}-api"


def test_api_has_its_own_account_and_least_privilege(helm: Helm) -> None:
    docs = helm.template(API_ON)
    assert one(docs, "ServiceAccount", API, NS)
    role = one(docs, "ClusterRole", API)
    assert flat(rules(role)) == flat(API_RULES)
    binding = one(docs, "ClusterRoleBinding", API)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": NS}]
    assert binding["roleRef"]["name"] == API
    # The operator's RBAC does not change, and gives nothing to the API's account.
    operator = one(docs, "ClusterRole", FULLNAME)
    assert flat(rules(operator)) == flat(NAMESPACE_RULES | watched_rules("prometheus-operator"))
    for b in docs:
        mine = (API, f"{API}-namespaces")
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding") and b["metadata"]["name"] not in mine:
            assert all(sub["name"] != API for sub in b["subjects"])
    namespaces = one(docs, "ClusterRole", f"{API}-namespaces")
    assert flat(rules(namespaces)) == flat(API_NAMESPACE_RULES)
    binding = one(docs, "ClusterRoleBinding", f"{API}-namespaces")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": NS}]
    assert binding["roleRef"]["name"] == f"{API}-namespaces"
    # watchNamespaces: Roles only there; cluster-wide only the list of Namespaces.
    docs = helm.template({**API_ON, "watchNamespaces": ["team-a", "team-b"]})
    assert not [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == API]
    assert flat(rules(one(docs, "ClusterRole", f"{API}-namespaces"))) == flat(API_NAMESPACE_RULES)
    for ns in ("team-a", "team-b"):
        assert flat(rules(one(docs, "Role", API, ns))) == flat(API_RULES)
        assert one(docs, "RoleBinding", API, ns)["subjects"][0]["name"] == API
    # Without tenant binding the API reads no Namespace, and is told so.
    docs = helm.template({**API_ON, "tenantBinding": False})
    assert not [d for d in docs if d["metadata"]["name"] == f"{API}-namespaces"]
    (container,) = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]["containers"]
    assert "--no-tenant-binding" in container["args"]


def test_api_deployment_serves_kubernetes_mode(helm: Helm) -> None:
    values = {**API_ON, "api": {**API_ON["api"], "customerNamespace": "alerts-{customer}"}}
    docs = helm.template(values)
    deploy = one(docs, "Deployment", API, NS)
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == API
    (container,) = pod["containers"]
    assert container["command"] == ["alertplane", "serve"]
    assert container["args"] == [
        "--kubernetes", "--host=0.0.0.0", "--port=8080",
        "--tokens=/etc/alertplane/tokens/tokens", "--customer-namespace=alerts-{customer}",
        "--attribution-key-file=/etc/alertplane/attribution/key",
    ]  # fmt: skip
    env = {e["name"]: e for e in container["env"]}
    assert env["ALERTPLANE_DB"]["valueFrom"]["secretKeyRef"] == {
        "name": "alertplane-db",
        "key": "url",
    }
    tokens = [v for v in pod["volumes"] if v["name"] == "tokens"]
    assert tokens[0]["secret"]["secretName"] == "api-tokens"
    svc = one(docs, "Service", API, NS)
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    # Neither Service selects the other's pods.
    operator_svc = one(docs, "Service", FULLNAME, NS)
    api_pod = deploy["spec"]["template"]["metadata"]["labels"]
    assert not operator_svc["spec"]["selector"].items() <= api_pod.items()
    operator_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["metadata"]["labels"]
    assert not svc["spec"]["selector"].items() <= operator_pod.items()
    # Off by default.
    assert not [d for d in helm.template() if d["metadata"]["name"] == API]


def test_api_asks_alertmanager_and_the_webhook_knows_the_apis_account(helm: Helm) -> None:
    """The API's /firing asks `alertmanagerUrl`; with the webhook on, the operator believes
    the API's audit annotations only for changes its ServiceAccount was admitted to make."""
    hooked = {**API_ON, "alertmanagerUrl": "http://am:9093", "webhook": {"enabled": True}}
    docs = helm.template(hooked)
    api_args = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]["containers"][0]
    assert "--alertmanager-url=http://am:9093" in api_args["args"]
    assert f"--api-service-account={NS}/{API}" in operator_args(docs)
    assert one(docs, "ServiceAccount", API, NS)  # the account named is the API's own
    # No webhook: nobody tells the operator the user; no API: no account to name.
    assert not [a for a in operator_args(helm.template(API_ON)) if "api-service" in a]
    alone = operator_args(helm.template({"webhook": {"enabled": True}}))
    assert not [a for a in alone if "api-service" in a]


KEY_FLAG = "--attribution-key-file=/etc/alertplane/attribution/key"


def _mounted_key(pod: Doc) -> tuple[str, str]:
    """(Secret, key) the pod mounts as /etc/alertplane/attribution/key."""
    (c,) = pod["containers"]
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/alertplane/attribution"]
    (vol,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = vol["secret"]["items"]
    assert item["path"] == "key" and mount["readOnly"] is True
    return vol["secret"]["secretName"], item["key"]


def test_api_and_operator_share_the_attribution_key(helm: Helm) -> None:
    """Without the webhook, the API's audit annotations are believed only when signed with
    a key that only the API and the operator have: both mount the same Secret."""
    docs = helm.template(API_ON)
    secret = one(docs, "Secret", f"{FULLNAME}-attribution-key", NS)
    key = base64.b64decode(secret["data"]["key"])
    assert len(key) >= 32
    api_pod = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]
    op_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    assert KEY_FLAG in api_pod["containers"][0]["args"] and KEY_FLAG in operator_args(docs)
    assert _mounted_key(api_pod) == _mounted_key(op_pod) == (f"{FULLNAME}-attribution-key", "key")
    # An existing Secret instead (GitOps: `helm template` cannot keep a generated key).
    own = {**API_ON, "api": {**API_ON["api"], "attributionKeySecret": "my-key",
                             "attributionKeyKey": "hmac"}}  # fmt: skip
    docs = helm.template(own)
    assert not [d for d in docs if d["kind"] == "Secret"]
    api_pod = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]
    op_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    assert _mounted_key(api_pod) == _mounted_key(op_pod) == ("my-key", "hmac")
    # No API: no key, no flag.
    docs = helm.template()
    assert KEY_FLAG not in operator_args(docs)
    assert not [d for d in docs if d["kind"] == "Secret"]


def operator_args(docs: list[Doc]) -> list[str]:
    pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    args: list[str] = pod["containers"][0]["args"]
    return args


@pytest.mark.parametrize("sink", ["files", "configmap", "prometheus-operator"])
def test_each_sink_type(helm: Helm, sink: str) -> None:
    values: Doc = {"sink": {"type": sink}, "prometheusUrl": "http://prometheus:9090",
                   "alertmanagerUrl": "http://alertmanager:9093"}  # fmt: skip
    if sink != "files":
        values["sink"]["namespace"] = "monitoring"
    docs = helm.template(values)
    args = argv(docs)[2:]
    assert f"--sink={sink}" in args
    assert "--prometheus-url=http://prometheus:9090" in args
    assert "--alertmanager-url=http://alertmanager:9093" in args
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    if sink == "files":
        assert "--out=/var/lib/alertplane/out" in args
        assert not any(a.startswith("--sink-namespace") for a in args)
        assert volumes[mounts["/var/lib/alertplane/out"]] == {"name": "out", "emptyDir": {}}
        assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
        claim = helm.template({"sink": {"type": "files", "files": {"existingClaim": "shared"}}})
        vol = next(v for v in one(claim, "Deployment")["spec"]["template"]["spec"]["volumes"]
                   if v["name"] == "out")  # fmt: skip
        assert vol["persistentVolumeClaim"] == {"claimName": "shared"}
    else:
        assert "--sink-namespace=monitoring" in args
        assert not any(a.startswith("--out") for a in args)
        assert "/var/lib/alertplane/out" not in mounts
        role = one(docs, "Role", f"{FULLNAME}-sink", "monitoring")
        assert flat(rules(role)) == flat(SINK_RULES[sink])
        assert one(docs, "RoleBinding", f"{FULLNAME}-sink", "monitoring")["subjects"] == [
            {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}
        ]
    # The custom resources stay cluster-wide; only the sink's write access is namespaced.
    assert flat(rules(one(docs, "ClusterRole"))) == flat(NAMESPACE_RULES | watched_rules(sink))


def test_watch_namespaces_narrow_the_custom_resource_access(helm: Helm) -> None:
    docs = helm.template({"watchNamespaces": ["team-a", "team-b"], "webhook": {"enabled": True}})
    args = argv(docs)
    assert args[2:4] == ["--namespace=team-a", "--namespace=team-b"]
    assert flat(rules(one(docs, "ClusterRole"))) == flat(NAMESPACE_RULES | NAMESPACE_GET)
    for ns in ("team-a", "team-b"):
        assert flat(rules(one(docs, "Role", FULLNAME, ns))) == flat(
            watched_rules("prometheus-operator")
        )
        assert one(docs, "RoleBinding", FULLNAME, ns)["subjects"][0]["namespace"] == NS
    for hook in one(docs, "ValidatingWebhookConfiguration")["webhooks"]:
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In",
                 "values": ["team-a", "team-b"]}
            ]
        }  # fmt: skip


def test_database_url_comes_from_the_secret(helm: Helm) -> None:
    docs = helm.template({"database": {"existingSecret": "pg", "secretKey": "dsn"}})
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["ALERTPLANE_DB"] == {
        "name": "ALERTPLANE_DB",
        "valueFrom": {"secretKeyRef": {"name": "pg", "key": "dsn"}},
    }
    assert not any(a.startswith("--db") for a in argv(docs)), "the URL must not be on argv"
    default = helm.template({"database": {"existingSecret": "pg"}})
    assert {e["name"]: e for e in container(default)["env"]}["ALERTPLANE_DB"]["valueFrom"][
        "secretKeyRef"
    ]["key"] == "url"


def test_platform_config_is_mounted_and_rolls_the_pod(helm: Helm) -> None:
    platform = {
        "secretsDir": "/etc/alertplane/secrets",
        "alertmanager": {
            "global": {"resolve_timeout": "5m"},
            "defaultReceiver": {"webhook_configs": [{"url": "http://oncall/hook"}]},
            "route": {"group_by": ["customer_id"], "repeat_interval": "4h"},
        },
    }
    docs = helm.template({"platform": platform})
    cm = one(docs, "ConfigMap", f"{FULLNAME}-platform")
    assert yaml.safe_load(cm["data"]["platform.yaml"]) == platform
    deploy = one(docs, "Deployment")
    checksum = deploy["spec"]["template"]["metadata"]["annotations"]["checksum/platform"]
    other = one(helm.template(), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert checksum != other["checksum/platform"]
    vol = next(v for v in deploy["spec"]["template"]["spec"]["volumes"] if v["name"] == "platform")
    assert vol["configMap"]["name"] == f"{FULLNAME}-platform"


def test_tenant_binding_off_and_extras(helm: Helm) -> None:
    docs = helm.template({
        "tenantBinding": False,
        "image": {"tag": "dev", "pullPolicy": "Always"},
        "extraArgs": ["--log-level=debug"],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "monitoring", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["infra"]}]}]}}},
    })  # fmt: skip
    args = argv(docs)
    assert "--no-tenant-binding" in args and "--tenant-binding" not in args
    assert args[-1] == "--log-level=debug"
    assert container(docs)["image"] == "ghcr.io/alertplane/alertplane:dev"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "monitoring"
    assert pod["affinity"]["nodeAffinity"]
    digest = "sha256:" + "a" * 64
    pinned = helm.template({"image": {"digest": digest}})
    assert container(pinned)["image"] == f"ghcr.io/alertplane/alertplane@{digest}"


def test_webhook_with_cert_manager(helm: Helm) -> None:
    docs = helm.template({"webhook": {"enabled": True}})
    args = argv(docs)
    assert args[-3:] == [
        "--webhook-port=9443",
        "--webhook-cert=/etc/alertplane/webhook/tls.crt",
        "--webhook-key=/etc/alertplane/webhook/tls.key",
    ]
    c = container(docs)
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in c["ports"]
    assert {"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"} in one(
        docs, "Service"
    )["spec"]["ports"]
    cert = one(docs, "Certificate")
    secret = cert["spec"]["secretName"]
    vol = next(
        v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "webhook-tls"
    )  # fmt: skip
    assert vol == {"name": "webhook-tls", "secret": {"secretName": secret}}
    assert cert["spec"]["dnsNames"][0] == f"{FULLNAME}.{NS}.svc"
    assert cert["spec"]["issuerRef"] == {
        "name": f"{FULLNAME}-selfsigned", "kind": "Issuer", "group": "cert-manager.io"
    }  # fmt: skip
    assert one(docs, "Issuer")["spec"] == {"selfSigned": {}}
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NS}/{cert['metadata']['name']}"
    }
    hooks = {h["name"]: h for h in vwc["webhooks"]}
    assert set(hooks) == {
        "customeralerts.validate.alertplane.io",
        "customerreceivers.validate.alertplane.io",
    }
    for plural in PLURALS.values():
        hook = hooks[f"{plural}.validate.alertplane.io"]
        assert hook["rules"] == [{
            "apiGroups": ["alertplane.io"], "apiVersions": ["*"], "resources": [plural],
            "operations": list(WEBHOOK_OPERATIONS), "scope": "Namespaced",
        }]  # fmt: skip
        path = f"/{webhook_id(plural)}"
        assert hook["clientConfig"] == {
            "service": {"name": FULLNAME, "namespace": NS, "path": path, "port": 9443}
        }
        assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Fail"
        assert "namespaceSelector" not in hook  # cluster-wide

    issuer = {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    docs = helm.template({"webhook": {"enabled": True, "certManager": {"issuerRef": issuer}}})
    assert one(docs, "Certificate")["spec"]["issuerRef"] == issuer
    assert "Issuer" not in kinds(docs)


def served_webhooks() -> dict[tuple[str, str], tuple[str, list[str]]]:
    """What the operator's kopf registry serves: (group, plural) -> (URL path, operations).

    kopf answers a review at `/<handler id>`; a review sent to any other path runs no
    handler and is allowed, so a path mismatch would silently switch validation off."""
    handlers = Handlers(cast(Any, None), cast(Any, None), cast(Any, None), True, lambda: None)
    registry = handlers.registry(webhook=True)
    return {
        (h.selector.group or "", h.selector.plural or ""): (f"/{h.id}", list(h.operations or []))
        for h in registry._webhooks.get_all_handlers()
    }


@pytest.mark.parametrize("watch", [[], ["team-a"]], ids=["cluster-wide", "namespaced"])
def test_webhook_calls_exactly_what_the_operator_serves(helm: Helm, watch: list[str]) -> None:
    served = served_webhooks()
    assert served == {
        ("alertplane.io", plural): (f"/{webhook_id(plural)}", list(WEBHOOK_OPERATIONS))
        for plural in PLURALS.values()
    }
    assert set(WEBHOOK_OPERATIONS) == {"CREATE", "UPDATE", "DELETE"}  # DELETE: audit actor
    docs = helm.template({"watchNamespaces": watch, "webhook": {"enabled": True, "port": 8443}})
    port = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}["webhook"]
    assert f"--webhook-port={port}" in argv(docs)
    called: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for hook in one(docs, "ValidatingWebhookConfiguration")["webhooks"]:
        (rule,) = hook["rules"]
        (group,), (plural,) = rule["apiGroups"], rule["resources"]
        service = hook["clientConfig"]["service"]
        assert (service["name"], service["port"]) == (FULLNAME, 8443)
        assert one(docs, "Service")["spec"]["ports"][-1]["port"] == 8443
        called[(group, plural)] = (service["path"], rule["operations"])
    assert called == served

    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n").decode()
    docs = helm.template({
        "webhook": {"enabled": True, "certManager": {"enabled": False},
                    "existingSecret": "my-tls", "caBundle": ca},
    })  # fmt: skip
    assert "Certificate" not in kinds(docs) and "Issuer" not in kinds(docs)
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert "annotations" not in vwc["metadata"]
    assert {h["clientConfig"]["caBundle"] for h in vwc["webhooks"]} == {ca}
    vol = next(
        v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "webhook-tls"
    )  # fmt: skip
    assert vol["secret"] == {"secretName": "my-tls"}


def test_service_monitor_and_prometheus_rule(helm: Helm) -> None:
    docs = helm.template({
        "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}, "scrapeTimeout": "10s"},
        "prometheusRule": {"enabled": True, "labels": {"role": "platform"}},
    })  # fmt: skip
    sm = one(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kps"
    assert sm["spec"]["selector"]["matchLabels"] == one(docs, "Service")["spec"]["selector"]
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" and endpoint["path"] == "/metrics"
    assert endpoint["scrapeTimeout"] == "10s"
    # AlertplaneDown selects up{job="alertplane"}: the scrape job is named to match.
    assert {"action": "replace", "targetLabel": "job", "replacement": "alertplane"} in endpoint[
        "relabelings"
    ]
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["role"] == "platform"
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert 'up{job="alertplane"} == 0' in exprs
    # Prometheus templates reach Prometheus verbatim, not expanded by Helm.
    text = helm.template_text({"prometheusRule": {"enabled": True}})
    assert "{{ $labels.instance }}" in text
    assert "ServiceMonitor" not in kinds(helm.template())
    assert "PrometheusRule" not in kinds(helm.template())


REJECTED: list[tuple[str, Doc, str]] = [
    ("unknown sink", {"sink": {"type": "kafka"}},
     "at '/sink/type': value must be one of 'files', 'configmap', 'prometheus-operator'"),
    ("watchNamespaces not a list", {"watchNamespaces": "team-a"},
     "at '/watchNamespaces': got string, want array"),
    ("bad namespace name", {"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
    ("unknown top-level key", {"sinkType": "files"},
     "additional properties 'sinkType' not allowed"),
    ("typo in a nested key", {"database": {"existingsecret": "pg"}},
     "at '/database': additional properties 'existingsecret' not allowed"),
    ("port out of range", {"metricsPort": 70000}, "at '/metricsPort'"),
    ("reload URL without scheme", {"prometheusUrl": "prometheus:9090"}, "at '/prometheusUrl'"),
    ("bad platform duration", {"platform": {"alertmanager": {"route": {"group_wait": "10x"}}}},
     "at '/platform/alertmanager/route/group_wait'"),
    ("unknown platform key", {"platform": {"secretDir": "/x"}},
     "at '/platform': additional properties 'secretDir' not allowed"),
    ("issuerRef without name", {"webhook": {"certManager": {"issuerRef": {"kind": "Issuer"}}}},
     "at '/webhook/certManager/issuerRef': missing property 'name'"),
    ("webhook failurePolicy", {"webhook": {"failurePolicy": "fail"}},
     "at '/webhook/failurePolicy'"),
    ("webhook paths are the operator's", {"webhook": {"paths": {"customerAlert": "/x"}}},
     "at '/webhook': additional properties 'paths' not allowed"),
    ("webhook without certificate source",
     {"webhook": {"enabled": True, "certManager": {"enabled": False}}},
     "needs webhook.existingSecret"),
    ("webhook secret without CA",
     {"webhook": {"enabled": True, "certManager": {"enabled": False}, "existingSecret": "t"}},
     "needs webhook.caBundle"),
    ("sink namespace with files", {"sink": {"type": "files", "namespace": "monitoring"}},
     "sink.namespace is only used with sink.type=configmap or prometheus-operator"),
    ("claim without files sink", {"sink": {"type": "configmap", "files": {"existingClaim": "c"}}},
     "sink.files.existingClaim is only used with sink.type=files"),
    ("platform receiver name",
     {"platform": {"alertmanager": {"defaultReceiver": {"name": "x"}}}},
     "defaultReceiver.name: the name is always platform-default"),
    ("no service account name", {"serviceAccount": {"create": False}},
     "serviceAccount.name is required when serviceAccount.create is false"),
    ("api without database", {"api": {"enabled": True, "tokensSecret": "t"}},
     "api.enabled needs database.existingSecret"),
    ("api without tokens", {"api": {"enabled": True}, "database": {"existingSecret": "db"}},
     "api.enabled needs api.tokensSecret"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_bad_values_are_refused_with_a_clear_message(helm: Helm, values: Doc, message: str) -> None:
    assert message in helm.template_error(values)


# -- against a real API server -------------------------------------------------------------

DRY_RUN_CASES: dict[str, Doc] = {
    "defaults": {},
    "files": {"sink": {"type": "files", "files": {"existingClaim": "shared"}},
              "prometheusUrl": "http://prometheus.monitoring:9090"},
    "configmap": {"sink": {"type": "configmap", "namespace": "monitoring"}},
    "prometheus-operator": {"sink": {"type": "prometheus-operator", "namespace": "monitoring"}},
    "watch-namespaces": {"watchNamespaces": ["team-a", "team-b"]},
    "no-binding-namespaced": {"tenantBinding": False, "watchNamespaces": ["team-a"]},
    "everything-on": ALL_ON,
    "api": {**API_ON, "watchNamespaces": ["team-a"]},
    "webhook-own-secret": {"webhook": {"enabled": True, "certManager": {"enabled": False},
                                       "existingSecret": "tls", "caBundle": "Y2E="}},
}  # fmt: skip
# cert-manager's CRDs are not available here (its module ships them only as Helm templates),
# so its two kinds are checked in Python (test_webhook_with_cert_manager) but not sent.
NOT_SENT = {"Certificate", "Issuer"}


def all_crds(kube: KubeEnv) -> list[dict[str, Any]]:
    crds: list[dict[str, Any]] = json.loads(kube.kubectl("get", "crd", "-o", "json").stdout)[
        "items"
    ]
    assert len(crds) == 5, [c["metadata"]["name"] for c in crds]
    return crds


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEnv]:
    with KubeEnv() as env:
        promop = Path(subprocess.run(
            ["bash", str(PROMOP_CRDS)], stdout=subprocess.PIPE, text=True, check=True
        ).stdout.strip().splitlines()[-1])  # fmt: skip
        env.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
        for crd in ("servicemonitors", "prometheusrules", "alertmanagerconfigs"):
            env.kubectl(
                "apply", "--server-side", "-f", str(promop / f"monitoring.coreos.com_{crd}.yaml")
            )
        env.wait_established(*(crd["metadata"]["name"] for crd in all_crds(env)))
        for ns in (NS, "monitoring", "team-a", "team-b", "team-c"):
            env.kubectl("create", "namespace", ns)
        # Pod Security Admission checks pod templates in workloads against the warn level.
        env.kubectl("label", "namespace", NS, *(f"pod-security.kubernetes.io/{mode}=restricted"
                                                for mode in ("enforce", "warn")))  # fmt: skip
        yield env


@pytest.mark.parametrize("case", list(DRY_RUN_CASES))
def test_rendered_manifests_pass_server_dry_run(helm: Helm, kube: KubeEnv, case: str) -> None:
    docs = [d for d in helm.template(DRY_RUN_CASES[case]) if d["kind"] not in NOT_SENT]
    items = {"apiVersion": "v1", "kind": "List", "items": docs}
    proc = kube.kubectl(
        "apply", "--dry-run=server", "--validate=strict", "-f", "-",
        input=json.dumps(items), check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "PodSecurity" not in proc.stderr, proc.stderr  # the pod passes the restricted profile
    created = proc.stdout.strip().splitlines()
    assert len(created) == len(docs), proc.stdout


class Access:
    """Ask the API server what a bearer token may do (SelfSubjectAccessReview, as the token)."""

    def __init__(self, kube: KubeEnv, token: str) -> None:
        self.kube, self.token = kube, token
        self.ctx = ssl.create_default_context(cafile=str(kube.ca_file))

    def can(self, verb: str, resource: str, namespace: str = "", group: str = "") -> bool:
        resource, _, sub = resource.partition("/")
        attrs = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
        if sub:
            attrs["subresource"] = sub
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        req = urllib.request.Request(
            f"{self.kube.server}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as resp:
            return bool(json.load(resp)["status"]["allowed"])

    def check(self, rules_: Rules, namespace: str) -> list[str]:
        """The rules this token cannot exercise in namespace ('' = cluster-wide)."""
        return [f"{g or 'core'}/{r}:{v}" for g, r, v in sorted(rules_)
                if not self.can(v, r, namespace, g)]  # fmt: skip


def helm_install(helm: Helm, kube: KubeEnv, release: str, values: Doc) -> None:
    proc = helm.run(
        "install", release, str(CHART), "-n", NS, values=values,
        env={"KUBECONFIG": str(kube.kubeconfig)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "alertplane operator" in proc.stdout  # NOTES.txt


def example_alert() -> Doc:
    """A valid CustomerAlert (the first in examples/customers/acme.yaml), for namespace team-a."""
    docs = yaml.safe_load_all((ROOT / "examples" / "customers" / "acme.yaml").read_text())
    alert: Doc = next(d for d in docs if d and d["kind"] == "CustomerAlert")
    alert["metadata"] = {"name": "acme-probe"}
    return alert


def test_installed_service_account_can_do_its_job_and_no_more(helm: Helm, kube: KubeEnv) -> None:
    helm_install(helm, kube, "cm", {"sink": {"type": "configmap", "namespace": "monitoring"}})
    sa = "cm-alertplane"
    token = kube.create_token(NS, sa, create=False)
    access = Access(kube, token)

    # Everything the operator needs, cluster-wide (any namespace) and in the sink namespace.
    assert access.check(NAMESPACE_RULES, "") == []
    for ns in ("", "team-a", "team-c"):
        assert access.check(CR_RULES, ns) == [], ns
    assert access.check(SINK_RULES["configmap"], "monitoring") == []

    forbidden = [
        # No Secrets at all with the configmap sink.
        ("get", "secrets", "", ""),
        ("list", "secrets", "", ""),
        ("get", "secrets", "team-a", ""),
        ("get", "secrets", NS, ""),
        ("list", "secrets", "monitoring", ""),
        # Namespaces: only listed and watched (cluster-wide mode never gets one by name).
        ("get", "namespaces", "", ""),
        ("delete", "namespaces", "", ""),
        ("create", "namespaces", "", ""),
        ("patch", "namespaces", "", ""),
        # The sink writes only in the sink namespace, and never needs get/watch/update there.
        ("create", "configmaps", "team-a", ""),
        ("delete", "configmaps", NS, ""),
        ("list", "configmaps", "", ""),
        ("get", "configmaps", "monitoring", ""),
        ("watch", "configmaps", "monitoring", ""),
        ("update", "configmaps", "monitoring", ""),
        ("deletecollection", "configmaps", "monitoring", ""),
        ("create", "prometheusrules", "monitoring", "monitoring.coreos.com"),  # not this sink
        # Custom resources: no create/delete, and only merge patches (no update).
        ("create", "customeralerts", "team-a", "alertplane.io"),
        ("delete", "customerreceivers", "team-a", "alertplane.io"),
        ("update", "customeralerts", "team-a", "alertplane.io"),
        ("update", "customerreceivers/status", "team-a", "alertplane.io"),
        ("get", "customeralerts/status", "team-a", "alertplane.io"),
        # Events: created, never patched; not the events.k8s.io API.
        ("patch", "events", "team-a", ""),
        ("create", "events", "team-a", "events.k8s.io"),
        # kopf: no CRD scanning, no peering objects.
        ("list", "customresourcedefinitions", "", "apiextensions.k8s.io"),
        ("watch", "customresourcedefinitions", "", "apiextensions.k8s.io"),
        ("get", "customresourcedefinitions", "", "apiextensions.k8s.io"),
        ("update", "customresourcedefinitions", "", "apiextensions.k8s.io"),
        ("list", "clusterkopfpeerings", "", "kopf.dev"),
        ("create", "leases", NS, "coordination.k8s.io"),
        ("create", "validatingwebhookconfigurations", "", "admissionregistration.k8s.io"),
        ("create", "pods", NS, ""),
        ("patch", "deployments", NS, "apps"),
        ("create", "rolebindings", NS, "rbac.authorization.k8s.io"),
        ("escalate", "clusterroles", "", "rbac.authorization.k8s.io"),
        ("impersonate", "serviceaccounts", "", ""),
    ]
    allowed = [f for f in forbidden if access.can(f[0], f[1], f[2], f[3])]
    assert allowed == [], f"the operator's ServiceAccount may do more than it needs: {allowed}"

    # The same, done for real with the token through the operator's own client and calls:
    # list its objects, add a finalizer and patch the status, write its sink.
    client = KubeClient(
        lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_file), token=token)
    )
    try:
        kube.kubectl("apply", "-n", "team-a", "-f", "-", input=json.dumps(example_alert()))
        ref = ObjectRef("CustomerAlert", "team-a", "acme-probe")
        names = [
            a["metadata"]["name"] for a in client.list(api_path(API_VERSION, "customeralerts"))
        ]
        assert "acme-probe" in names
        body = client.get(object_path(ref))
        assert body is not None
        add_finalizer(client, ref, body["metadata"])
        status = {"status": {"phase": "Synced", "observedGeneration": 1}}
        assert client.merge_patch(object_path(ref, "status"), status)["status"]["phase"] == "Synced"
        # As the sink writes: list by label, server-side apply (creates, then patches), delete.
        sink = ManagedObjects(client, "v1", "ConfigMap", "configmaps", "monitoring")
        sink.load()
        for data in ({"a": "1"}, {"a": "2"}):
            assert sink.put("alertplane-rules-acme", {MANAGED_BY: "alertplane"}, {"data": data})
        sink.load()
        assert sink.names() == ["alertplane-rules-acme"]
        assert sink.remove("alertplane-rules-acme")
        remove_finalizer(client, ref)
        for forbidden_call in (
            lambda: list(client.list(api_path("v1", "secrets"))),
            lambda: client.get(api_path("v1", "secrets", "team-a", "x")),
            lambda: client.delete(object_path(ref)),
        ):
            with pytest.raises(ApiError) as denied:
                forbidden_call()
            assert denied.value.status == 403
    finally:
        client.close()
    kube.kubectl("delete", "customeralert", "acme-probe", "-n", "team-a")


def test_installed_namespaced_operator_sees_only_its_namespaces(helm: Helm, kube: KubeEnv) -> None:
    helm_install(helm, kube, "po", {
        "watchNamespaces": ["team-a", "team-b"],
        "sink": {"type": "prometheus-operator", "namespace": "monitoring"},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
    })  # fmt: skip
    access = Access(kube, kube.create_token(NS, "po-alertplane", create=False))
    assert access.check(NAMESPACE_RULES | NAMESPACE_GET, "") == []
    for ns in ("team-a", "team-b"):
        assert access.check(watched_rules("prometheus-operator"), ns) == [], ns
    assert access.check(SINK_RULES["prometheus-operator"], "monitoring") == []
    # Not cluster-wide, not in an unwatched namespace, and no ConfigMaps for this sink.
    watched = watched_rules("prometheus-operator")
    assert not any(access.can(v, r, ns, g) for g, r, v in watched for ns in ("", "team-c"))
    assert not access.can("create", "configmaps", "monitoring")
    assert not access.can("create", "prometheusrules", "team-a", "monitoring.coreos.com")
    # Secrets: read by name where the receivers are, managed in the sink namespace; never
    # listed or watched in a customer namespace, never written outside the sink namespace.
    for verb in ("list", "watch", "create", "patch", "delete"):
        assert not access.can(verb, "secrets", "team-a"), verb
    assert not access.can("watch", "secrets", "monitoring")
    assert not access.can("update", "secrets", "monitoring")
    assert not access.can("update", "prometheusrules", "monitoring", "monitoring.coreos.com")
    # The release's other objects exist for real.
    for kind in ("servicemonitor", "prometheusrule", "deployment", "service", "configmap"):
        kube.kubectl(
            "get", kind, "-n", NS, "po-alertplane" + ("-platform" if kind == "configmap" else "")
        )

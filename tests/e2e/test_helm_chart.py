"""The Helm chart (charts/alertplane): the files it copies, lint, the default render, RBAC.

The API workload is in test_helm_api.py, the values in test_helm_values.py, a real API
server in test_helm_install.py.

helm is built from its Go module by hack/helm/build.sh (tests/support/chart_env.py). Rendered
manifests are checked in Python, then sent to a real kube-apiserver (tests/support/k8s_env.py) with
`kubectl apply --dry-run=server`, and one release per sink layout is installed for real so
its ServiceAccount's token can be tested against the RBAC it got. The RBAC expected here is
what the operator calls (grep k8s/, kube/ and sinks/ for KubeClient calls); the operator e2e tests
(tests/e2e/test_operator*.py) run the operator with RBAC rendered from this chart and fail
on any 403, so the rules are proven enough there and exact here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from alertplane.model.kinds import TABLE
from tests.support.chart_env import CHART
from tests.support.helm import (
    ALL_ON,
    FULLNAME,
    NAMESPACE_RULES,
    NS,
    SINK_RULES,
    SYNC,
    Doc,
    Helm,
    argv,
    container,
    flat,
    kinds,
    live_rules,
    named_rules,
    one,
    rules,
    watched_rules,
)
from tests.support.paths import ROOT

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


PROMOP_OBJECTS: Doc = {"sink": {"prometheusOperator": {
    "createObjects": True, "prometheus": ["main", "b"], "alertmanager": ["main"],
    "prometheusSpec": {"replicas": 2}}}}  # fmt: skip


@pytest.mark.parametrize(
    "values", [None, ALL_ON, PROMOP_OBJECTS], ids=["defaults", "everything-on", "promop-objects"]
)
def test_helm_lint_strict(helm: Helm, values: Doc | None) -> None:
    for strict in ([], ["--strict"]):
        proc = helm.run("lint", *strict, str(CHART), values=values)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "0 chart(s) failed" in proc.stdout


def test_default_render(helm: Helm) -> None:
    docs = helm.template()
    assert kinds(docs) == [
        "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget",
        "Role", "Role", "Role", "RoleBinding", "RoleBinding", "RoleBinding", "Service",
        "ServiceAccount",
    ]  # fmt: skip  # two replicas: the Lease Role and the PDB (test_helm_leader.py)
    assert all(d["metadata"]["name"].startswith(FULLNAME) for d in docs)
    for d in docs:
        if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == NS, d["kind"]

    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME
    c = container(docs)
    assert c["image"] == "ghcr.io/alertplane/alertplane:0.1.0"
    assert argv(docs) == [
        "alertplane", "operator",
        "--sink=prometheus-operator", f"--sink-namespace={NS}",
        "--promop-prometheus=main", "--promop-alertmanager=main",
        "--tenant-binding", "--metrics-port=8080", "--resync-interval=300",
        "--leader-elect", f"--leader-election-namespace={NS}",
        f"--leader-election-name={FULLNAME}", "--leader-lease-duration=15",
        "--leader-renew-deadline=10", "--leader-retry-period=2",
    ]  # fmt: skip
    assert c["env"][2:] == [
        {"name": "ALERTPLANE_PLATFORM_CONFIG", "value": "/etc/alertplane/platform.yaml"}
    ]  # after POD_NAME and POD_NAMESPACE (test_helm_leader.py)
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
    # Liveness (Prometheus main, Alertmanager main, both in the sink namespace): reads only.
    live_role = one(docs, "Role", f"{FULLNAME}-live", NS)
    assert named_rules(live_role) == live_rules(("main",), ("main",))
    subject = {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}
    bindings = (("ClusterRoleBinding", None, cluster_role), ("RoleBinding", f"{FULLNAME}-sink",
                sink_role), ("RoleBinding", f"{FULLNAME}-live", live_role))  # fmt: skip
    for binding, name, role in bindings:
        b = one(docs, binding, name)
        assert b["subjects"] == [subject]
        assert b["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role["kind"],
            "name": role["metadata"]["name"],
        }
    # No wildcards, no update (server-side apply and merge patches only), no watch beyond
    # what kopf watches, never create/delete custom resources; Secrets: get by name where
    # the custom resources are, and only the sink's own in the sink namespace.
    for role in (cluster_role, sink_role, live_role):
        for g, r, v in rules(role):
            assert "*" not in (g, r, v)
            assert v not in ("update", "deletecollection", "escalate", "bind", "impersonate")
            assert v != "watch" or r in ("namespaces", *(k.plural for k in TABLE))
            assert not (g == "alertplane.io" and v in ("create", "delete"))
    assert {v for g, r, v in rules(cluster_role) if r == "secrets"} == {"get"}
    assert {v for g, r, v in rules(live_role) if g == "monitoring.coreos.com"} == {"get"}
    assert all(names for g, r, v, names in named_rules(live_role) if v == "get")
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

"""The Helm chart on a real API server: every rendered layout passes a server-side dry
run, and releases installed for real get a ServiceAccount that can do its job and no more."""

from __future__ import annotations

import json
from collections.abc import Iterator

import kopf
import pytest
import yaml

from alertplane.errors import ObjectRef
from alertplane.k8s.publish import add_finalizer, object_path, remove_finalizer
from alertplane.kube.client import ApiError, KubeClient
from alertplane.kube.paths import api_path
from alertplane.model.common import API_VERSION
from alertplane.sinks.kubeobjects import MANAGED_BY, ManagedObjects
from tests.support.helm import (
    ALL_ON,
    API_ON,
    CR_RULES,
    NAMESPACE_GET,
    NAMESPACE_RULES,
    NS,
    SINK_RULES,
    Access,
    Doc,
    Helm,
    chart_kube,
    helm_install,
    live_rules,
    watched_rules,
)
from tests.support.k8s_env import KubeEnv
from tests.support.paths import ROOT

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
    # the API scaled horizontally (issue 12): PodDisruptionBudget, HorizontalPodAutoscaler
    "api-replicas": {**API_ON, "api": {**API_ON["api"], "replicas": 3}},
    "api-autoscaled": {**API_ON, "api": {**API_ON["api"], "autoscaling": {"enabled": True}}},
    "prometheus-operator-objects": {"sink": {"namespace": "monitoring", "prometheusOperator": {
        "createObjects": True, "prometheusSpec": {"replicas": 2, "retention": "15d"},
        "alertmanagerSpec": {"replicas": 3}}}},
    # Mimir (issue 12): nothing written into the cluster, the gateway token mounted
    "mimir": {"sink": {"type": "mimir", "mimir": {"url": "https://mimir-gw.mimir.svc:8080",
                                                  "tokenSecret": "mimir-gw"}}},
    # ... and the API's firing view asking Mimir with the same mounted token
    "mimir-api": {**API_ON, "sink": {"type": "mimir", "mimir": {
        "url": "https://mimir-gw.mimir.svc:8080", "tokenSecret": "mimir-gw"}}},
    "mimir-namespaced": {"watchNamespaces": ["team-a"],
                         "sink": {"type": "mimir", "mimir": {"url": "http://mimir:8080"}}},
    "webhook-own-secret": {"webhook": {"enabled": True, "certManager": {"enabled": False},
                                       "existingSecret": "tls", "caBundle": "Y2E="}},
}  # fmt: skip
# cert-manager's CRDs are not available here (its module ships them only as Helm templates),
# so its two kinds are checked in Python (test_webhook_with_cert_manager) but not sent.
NOT_SENT = {"Certificate", "Issuer"}


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEnv]:
    with chart_kube(NS, "monitoring", "team-a", "team-b", "team-c") as env:
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
    leases = "coordination.k8s.io"  # leader election: the release's own Lease
    assert access.can("create", "leases", NS, leases)
    assert all(access.can(verb, "leases", NS, leases, name=sa) for verb in ("get", "update"))

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
        ("get", "prometheuses", "monitoring", "monitoring.coreos.com"),  # no liveness reads
        ("list", "events", "monitoring", ""),
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
        # The leader election's Lease (two replicas): only its own, in its namespace.
        ("create", "leases", "monitoring", "coordination.k8s.io"),
        ("list", "leases", NS, "coordination.k8s.io"),
        ("delete", "leases", NS, "coordination.k8s.io"),
        ("update", "leases", NS, "coordination.k8s.io"),  # any other name
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
    # Liveness (sink.prometheusOperator defaults: Prometheus main, Alertmanager main).
    assert access.check_named(live_rules(("main",), ("main",)), "monitoring") == []
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


def test_installed_mimir_operator_reads_secrets_by_name_where_receivers_are(
    helm: Helm, kube: KubeEnv
) -> None:
    """sink.type=mimir: Mimir refuses *_file fields, so the operator reads the Secret keys
    receivers reference (get by name, in the watched namespaces only) to inline them into
    the tenant's configuration; it writes nothing into the cluster."""
    helm_install(helm, kube, "mi", {
        "watchNamespaces": ["team-a", "team-b"],
        "sink": {"type": "mimir", "mimir": {"url": "http://mimir-gw:8080",
                                            "tokenSecret": "mimir-gw"}},
    })  # fmt: skip
    access = Access(kube, kube.create_token(NS, "mi-alertplane", create=False))
    assert access.check(NAMESPACE_RULES | NAMESPACE_GET, "") == []
    for ns in ("team-a", "team-b"):
        assert access.check(watched_rules("mimir"), ns) == [], ns
    allowed = [
        (verb, resource, ns)
        for ns in ("", "team-a", "team-c", "monitoring", NS)
        for resource in ("secrets", "configmaps")
        for verb in ("get", "list", "watch", "create", "patch", "update", "delete")
        if access.can(verb, resource, ns)
        and not (resource == "secrets" and verb == "get" and ns in ("team-a", "team-b"))
    ]
    assert allowed == [], f"the Mimir sink's ServiceAccount may do more than it needs: {allowed}"
    for group, resource in (("monitoring.coreos.com", "prometheusrules"),
                            ("monitoring.coreos.com", "alertmanagerconfigs"),
                            ("monitoring.coreos.com", "prometheuses")):  # fmt: skip
        assert not access.can("get", resource, "monitoring", group), resource
        assert not access.can("create", resource, "team-a", group), resource

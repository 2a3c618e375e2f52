"""The chart's prometheus-operator settings (sink.prometheusOperator): the liveness targets
become the operator's --promop-* flags and read-only Roles for exactly those reads, and
createObjects renders the Prometheus and Alertmanager objects the README documents and the
prometheus-operator e2e runs on (tests/support/chart_env.platform_objects). Rendered here,
then on a real API server with prometheus-operator's CRDs and the ServiceAccount's token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import kopf
import pytest
import yaml

from alertplane.kube.client import ApiError, KubeClient
from alertplane.kube.paths import api_path
from tests.support.chart_env import CHART, platform_objects
from tests.support.helm import (
    MONITORING,
    NS,
    Access,
    Doc,
    Helm,
    argv,
    chart_kube,
    helm_install,
    live_rules,
    named_rules,
    one,
)
from tests.support.k8s_env import KubeEnv

SINK = "monitoring"
PROMOP_FLAGS = ("--promop-prometheus", "--promop-alertmanager")
RULE_SELECTOR = {"alertplane.io/rules": "true", "app.kubernetes.io/managed-by": "alertplane"}


def promop(values: Doc, sink_type: str = "prometheus-operator") -> Doc:
    return {"sink": {"type": sink_type, "namespace": SINK, "prometheusOperator": values}}


def promop_args(docs: list[Doc]) -> list[str]:
    return [a for a in argv(docs) if a.startswith(PROMOP_FLAGS)]


def live_roles(docs: list[Doc]) -> dict[str, Doc]:
    return {
        d["metadata"]["namespace"]: d
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "ap-alertplane-live"
    }


# -- rendered ------------------------------------------------------------------------------


def test_liveness_targets_become_flags_and_exactly_the_reads(helm: Helm) -> None:
    docs = helm.template(
        promop({"prometheus": ["main", "other/p2", f"{SINK}/p3"], "alertmanager": ["main", "am2"]})
    )
    assert promop_args(docs) == [
        "--promop-prometheus=main", "--promop-prometheus=other/p2",
        f"--promop-prometheus={SINK}/p3",
        "--promop-alertmanager=main", "--promop-alertmanager=am2",
    ]  # fmt: skip
    roles = live_roles(docs)
    assert set(roles) == {SINK, "other"}
    assert named_rules(roles[SINK]) == live_rules(("main", "p3"), ("main", "am2"))
    # A Prometheus elsewhere: it and its rule ConfigMaps there; Events stay in the sink's.
    assert named_rules(roles["other"]) == live_rules(("p2",), events=False)
    for ns in roles:
        binding = one(docs, "RoleBinding", "ap-alertplane-live", ns)
        assert binding["roleRef"]["name"] == "ap-alertplane-live"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ap-alertplane",
                                        "namespace": NS}]  # fmt: skip

    # Only a Prometheus in another namespace: the sink namespace still has the Events.
    docs = helm.template(promop({"prometheus": ["other/main"], "alertmanager": []}))
    assert promop_args(docs) == ["--promop-prometheus=other/main"]
    roles = live_roles(docs)
    assert named_rules(roles[SINK]) == live_rules()
    assert named_rules(roles["other"]) == live_rules(("main",), events=False)


@pytest.mark.parametrize(
    "values",
    [promop({"prometheus": [], "alertmanager": []}), promop({}, "configmap"),
     {"sink": {"type": "files"}}],
    ids=["nobody-named", "configmap-sink", "files-sink"],
)  # fmt: skip
def test_no_targets_no_flags_no_reads(helm: Helm, values: Doc) -> None:
    docs = helm.template(values)
    assert promop_args(docs) == []
    assert live_roles(docs) == {}
    assert not [d for d in docs if d["kind"] in ("Prometheus", "Alertmanager")]


def rendered(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_created_objects_are_the_documented_ones(helm: Helm) -> None:
    docs = helm.template(promop({"createObjects": True, "prometheus": ["main", f"{SINK}/b"]}))
    proms, ams = rendered(docs, "Prometheus"), rendered(docs, "Alertmanager")
    assert sorted(proms) == ["b", "main"] and sorted(ams) == ["main"]
    for prom in proms.values():
        assert prom["metadata"]["namespace"] == SINK
        assert prom["spec"] == {
            "serviceAccountName": "ap-alertplane-prometheus",
            # Only alertplane's PrometheusRules, only from the sink namespace.
            "ruleSelector": {"matchLabels": RULE_SELECTOR},
            "ruleNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SINK}},
            # Any monitor selector: else PO leaves prometheus.yaml unmanaged and empty.
            "serviceMonitorSelector": {"matchLabels": {"app.kubernetes.io/part-of": "alertplane"}},
            "alerting": {"alertmanagers": [
                {"namespace": SINK, "name": "alertmanager-operated", "port": "web"}]},
        }  # fmt: skip
    assert ams["main"]["metadata"]["namespace"] == SINK
    assert ams["main"]["spec"] == {
        "alertmanagerConfiguration": {"name": "alertplane.platform"},
        "alertmanagerConfigSelector": {"matchLabels": {"alertplane.io/alertmanager": "true"}},
        "alertmanagerConfigMatcherStrategy": {"type": "None"},
    }
    # Prometheus discovers the Alertmanager endpoints (and monitors' targets) in the sink
    # namespace only: a Role there, nothing cluster-wide, nothing for the operator's account.
    role = one(docs, "Role", "ap-alertplane-prometheus", SINK)
    assert named_rules(role) == {
        (g, r, v, ())
        for g, resources in (("", ("services", "endpoints", "pods")),
                             ("discovery.k8s.io", ("endpointslices",)))
        for r in resources for v in ("get", "list", "watch")
    }  # fmt: skip
    binding = one(docs, "RoleBinding", "ap-alertplane-prometheus", SINK)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ap-alertplane-prometheus", "namespace": SINK}
    ]
    assert one(docs, "ServiceAccount", "ap-alertplane-prometheus", SINK)
    # The helper the prometheus-operator e2e applies renders the same objects.
    helper = platform_objects(SINK, prometheus=("main", f"{SINK}/b"))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in helper) == [
        ("Alertmanager", "main"), ("Prometheus", "b"), ("Prometheus", "main"),
        ("Role", "ap-alertplane-prometheus"), ("RoleBinding", "ap-alertplane-prometheus"),
        ("ServiceAccount", "ap-alertplane-prometheus"),
    ]  # fmt: skip
    assert rendered(helper, "Prometheus")["main"]["spec"] == proms["main"]["spec"]


def test_spec_fields_replace_the_charts_field_whole(helm: Helm) -> None:
    monitors = {"matchLabels": {"team": "platform"}}
    docs = helm.template(promop({
        "createObjects": True,
        "prometheusSpec": {"replicas": 2, "version": "v3.5.0", "serviceMonitorSelector": monitors,
                           "serviceAccountName": "prometheus"},
        "alertmanagerSpec": {"replicas": 3, "storage": {"volumeClaimTemplate": {"spec": {
            "resources": {"requests": {"storage": "1Gi"}}}}}},
    }))  # fmt: skip
    prom = rendered(docs, "Prometheus")["main"]["spec"]
    # Replaced, not merged: no part of the chart's selector survives next to the user's.
    assert prom["serviceMonitorSelector"] == monitors
    assert prom["replicas"] == 2 and prom["version"] == "v3.5.0"
    assert prom["ruleSelector"] == {"matchLabels": RULE_SELECTOR}
    # Their own ServiceAccount: the chart renders none (and no Role for one).
    assert prom["serviceAccountName"] == "prometheus"
    assert not [d for d in docs if "prometheus" in d["metadata"]["name"].split("-")[-1:]]
    am = rendered(docs, "Alertmanager")["main"]["spec"]
    assert am["replicas"] == 3 and "storage" in am
    assert am["alertmanagerConfiguration"] == {"name": "alertplane.platform"}


REJECTED = [
    ("all-namespaces rules", promop({"prometheusSpec": {"ruleNamespaceSelector": {}}}),
     "prometheusSpec.ruleNamespaceSelector is the chart's"),
    ("broader rule selector", promop({"prometheusSpec": {"ruleSelector": {}}}),
     "prometheusSpec.ruleSelector is the chart's"),
    ("other base configuration",
     promop({"alertmanagerSpec": {"alertmanagerConfiguration": {"name": "x"}}}),
     "alertmanagerSpec.alertmanagerConfiguration is the chart's"),
    ("AMCs from all namespaces",
     promop({"alertmanagerSpec": {"alertmanagerConfigNamespaceSelector": {}}}),
     "alertmanagerSpec.alertmanagerConfigNamespaceSelector is the chart's"),
    ("namespace matcher",
     promop({"alertmanagerSpec": {"alertmanagerConfigMatcherStrategy": {"type": "OnNamespace"}}}),
     "alertmanagerSpec.alertmanagerConfigMatcherStrategy is the chart's"),
    ("objects for the configmap sink", promop({"createObjects": True}, "configmap"),
     "only the prometheus-operator sink feeds (sink.type is configmap)"),
    ("objects elsewhere", promop({"createObjects": True, "prometheus": ["other/main"]}),
     "prometheus[0] is other/main: with createObjects the chart renders its Prometheus "
     "objects in the sink namespace monitoring"),
    ("objects for nobody",
     promop({"createObjects": True, "prometheus": [], "alertmanager": []}),
     "both lists are empty"),
    ("bad prometheus name", promop({"prometheus": ["Main"]}),
     "at '/sink/prometheusOperator/prometheus/0'"),
    ("alertmanager elsewhere", promop({"alertmanager": ["other/main"]}),
     "at '/sink/prometheusOperator/alertmanager/0'"),
    ("duplicate", promop({"alertmanager": ["main", "main"]}),
     "at '/sink/prometheusOperator/alertmanager'"),
    ("same Prometheus twice", promop({"prometheus": ["main", f"{SINK}/main"]}),
     f"prometheus[1] ({SINK}/main) names the Prometheus {SINK}/main a second time"),
    ("typo", promop({"createobjects": True}),
     "additional properties 'createobjects' not allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_unsafe_or_impossible_settings_are_refused(helm: Helm, values: Doc, message: str) -> None:
    assert message in helm.template_error(values)


def readme_objects() -> list[Doc]:
    """The YAML blocks of the README's prometheus-operator section holding Prometheus or
    Alertmanager objects."""
    text = (CHART / "README.md").read_text()
    section = text.split("### prometheus-operator", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    docs = [d for b in blocks for d in yaml.safe_load_all(b) if d]
    return [d for d in docs if d.get("kind") in ("Prometheus", "Alertmanager")]


def test_readme_shows_exactly_the_rendered_objects() -> None:
    shown = readme_objects()
    assert [d["kind"] for d in shown] == ["Prometheus", "Alertmanager"]
    objects = platform_objects(SINK, release="alertplane")  # the README's release name
    for doc in shown:
        (same,) = [d for d in objects if d["kind"] == doc["kind"]]
        assert doc["metadata"] == {"name": "main", "namespace": SINK}
        assert doc["spec"] == same["spec"], f"README {doc['kind']} differs from the chart's"


# -- on a real API server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEnv]:
    with chart_kube(NS, SINK, "other", "team-a") as env:
        yield env


# Fields prometheus-operator v0.85.0's CRDs default (openAPIV3Schema `default:`).
CRD_DEFAULTS = {"portName", "evaluationInterval", "scrapeInterval"}


def test_prometheus_operators_crds_accept_the_objects_unchanged(kube: KubeEnv) -> None:
    objects = platform_objects(SINK, prometheus=("main", "second"), values={
        "prometheusSpec": {"replicas": 2, "retention": "15d", "version": "v3.5.0"},
        "alertmanagerSpec": {"replicas": 3, "retention": "240h"},
    })  # fmt: skip
    items = {"apiVersion": "v1", "kind": "List", "items": objects}
    # Strict field validation: an unknown or misplaced field is an error, not pruned.
    proc = kube.kubectl("apply", "--server-side", "--validate=strict", "-f", "-",
                        input=json.dumps(items), check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for doc in objects:
        if doc["kind"] not in ("Prometheus", "Alertmanager"):
            continue
        kind, name = doc["kind"].lower(), doc["metadata"]["name"]
        stored = json.loads(kube.kubectl("get", kind, name, "-n", SINK, "-o", "json").stdout)
        kept = {k: v for k, v in stored["spec"].items() if k in doc["spec"]}
        assert kept == doc["spec"], f"{kind}/{name} was changed by the API server"
        # Added: only the CRD's own defaults.
        assert set(stored["spec"]) - set(doc["spec"]) <= CRD_DEFAULTS, stored["spec"]
    # The unsafe settings the chart refuses are the ones the CRD itself would allow.
    unsafe = dict(objects[-1], metadata={"name": "wide", "namespace": SINK})
    unsafe["spec"] = {**unsafe["spec"], "ruleNamespaceSelector": {}}
    proc = kube.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(unsafe),
                        check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_service_account_makes_exactly_the_liveness_reads(helm: Helm, kube: KubeEnv) -> None:
    # Namespace mode: cluster-wide, the prometheus-operator sink may read every Secret by
    # name (its receivers' Secrets), which would hide what the liveness Role adds.
    values = {**promop({"prometheus": ["main", "other/p2"]}), "watchNamespaces": ["team-a"]}
    helm_install(helm, kube, "lv", values)
    token = kube.create_token(NS, "lv-alertplane", create=False)
    access = Access(kube, token)
    assert access.check_named(live_rules(("main",), ("main",)), SINK) == []
    assert access.check_named(live_rules(("p2",), events=False), "other") == []
    forbidden = [
        ("get", "prometheuses", SINK, MONITORING, "p2"),  # p2 is in `other`
        ("get", "prometheuses", "other", MONITORING, "main"),
        ("list", "prometheuses", SINK, MONITORING, ""),
        ("watch", "prometheuses", SINK, MONITORING, ""),
        ("patch", "prometheuses", SINK, MONITORING, "main"),
        ("update", "prometheuses/status", SINK, MONITORING, "main"),
        ("create", "prometheuses", SINK, MONITORING, ""),
        ("get", "alertmanagers", SINK, MONITORING, "other"),
        ("patch", "alertmanagers", SINK, MONITORING, "main"),
        # Secrets: only the generated configuration, by name (the sink Role lists its own).
        ("get", "secrets", SINK, "", "alertmanager-main"),
        ("get", "secrets", SINK, "", "prometheus-main"),
        ("get", "secrets", "other", "", "alertmanager-main-generated"),
        ("watch", "secrets", SINK, "", ""),
        # ConfigMaps: listed in the Prometheus' namespaces only, never written or watched.
        ("list", "configmaps", "", "", ""),
        ("list", "configmaps", NS, "", ""),
        ("watch", "configmaps", "other", "", ""),
        ("create", "configmaps", "other", "", ""),
        ("get", "configmaps", "other", "", "prometheus-p2-rulefiles-0"),
        # Events: listed in the sink namespace only.
        ("list", "events", "other", "", ""),
        ("list", "events", "", "", ""),
        ("watch", "events", SINK, "", ""),
        ("list", "events", SINK, "events.k8s.io", ""),
    ]
    allowed = [f for f in forbidden if access.can(*f)]
    assert allowed == [], f"liveness may read more than it needs: {allowed}"
    live_reads_for_real(kube, token)


def live_reads_for_real(kube: KubeEnv, token: str) -> None:
    """What the liveness check reads, read with the token through the operator's client:
    the Prometheus/Alertmanager objects, PO's rule ConfigMaps by label, the generated
    Secret, the Events of the sink namespace."""
    objects = [d for d in platform_objects(SINK) if d["kind"] in ("Prometheus", "Alertmanager")]
    p2 = dict(objects[-1], metadata={"name": "p2", "namespace": "other"})
    po_labels = {"managed-by": "prometheus-operator", "prometheus-name": "main"}
    kube.apply(*objects, p2, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "prometheus-main-rulefiles-0", "namespace": SINK, "labels": po_labels},
        "data": {f"{SINK}-alertplane-acme-uid.yaml": "groups: []\n"},
    }, {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "alertmanager-main-generated", "namespace": SINK},
        "data": {"alertmanager.yaml.gz": ""},
    }, {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "alertplane-acme.1", "namespace": SINK},
        "involvedObject": {"kind": "PrometheusRule", "name": "alertplane-acme", "namespace": SINK},
        "type": "Warning", "reason": "InvalidConfiguration", "message": "rejected",
    })  # fmt: skip
    client = KubeClient(
        lambda: kopf.ConnectionInfo(server=kube.server, ca_path=str(kube.ca_file), token=token)
    )
    try:
        for ns, name in ((SINK, "main"), ("other", "p2")):
            prom: Any = client.get(api_path(f"{MONITORING}/v1", "prometheuses", ns, name))
            assert prom["metadata"]["name"] == name
        assert client.get(api_path(f"{MONITORING}/v1", "alertmanagers", SINK, "main"))
        selector = "managed-by=prometheus-operator,prometheus-name=main"
        maps = client.list(api_path("v1", "configmaps", SINK), label_selector=selector)
        assert [m["metadata"]["name"] for m in maps] == ["prometheus-main-rulefiles-0"]
        secret = client.get(api_path("v1", "secrets", SINK, "alertmanager-main-generated"))
        assert secret is not None and "alertmanager.yaml.gz" in secret["data"]
        events = list(client.list(api_path("v1", "events", SINK)))
        assert [e["reason"] for e in events] == ["InvalidConfiguration"]
        for denied_call in (
            lambda: client.get(api_path("v1", "secrets", SINK, "ap-other")),
            lambda: client.get(api_path(f"{MONITORING}/v1", "prometheuses", SINK, "p2")),
            lambda: list(client.list(api_path("v1", "events", "other"))),
        ):
            with pytest.raises(ApiError) as denied:
                denied_call()
            assert denied.value.status == 403
    finally:
        client.close()

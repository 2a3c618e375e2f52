"""What the operator writes when nothing changed: nothing. And what it repairs without a change.

On a real API server, with the operator as the Helm chart deploys it (flags and RBAC from
the chart): a restart over unchanged objects patches no status (every object's
resourceVersion stays as it was); the periodic resync (`--resync-interval`, 1 s here)
rewrites generated objects that were edited or deleted by hand and re-copies a rotated
Secret, and rewrites nothing while they match. Waiting is by polling the cluster and the
operator's metrics; no timing decides pass or fail.
"""

from __future__ import annotations

import base64
import urllib.request
from pathlib import Path

import pytest

from alertplane.kube.paths import api_path
from tests.support.chart_env import NO_PROMOP_TARGETS
from tests.support.factories import DROP, alert, receiver
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    chart_operator,
    running,
    wait_for,
)
from tests.support.paths import EXAMPLES

SINK_NS = "monitoring"
PROMOP_V1 = "monitoring.coreos.com/v1"
PROMOP_V1ALPHA1 = "monitoring.coreos.com/v1alpha1"


def series(op: OperatorProcess, sample: str) -> float:
    """One sample of the operator's /metrics (`name{labels}`); 0 when not exported yet."""
    with urllib.request.urlopen(f"{op.url}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def resyncs(op: OperatorProcess) -> float:
    return series(op, 'alertplane_resyncs_total{outcome="ok"}')


def after_resyncs(op: OperatorProcess, count: int = 2) -> None:
    """Wait until `count` more resyncs have completed (each compares everything)."""
    start = resyncs(op)
    wait_for(lambda: resyncs(op) >= start + count, 30, f"{count} resyncs")


def versions(cluster: Cluster, ns: str) -> dict[str, str]:
    out = {}
    for plural in ("customeralerts", "customerreceivers"):
        for item in cluster.items("alertplane.io/v1alpha1", plural, ns):
            out[f"{plural}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def mirrored_everywhere(cluster: Cluster, ns: str) -> bool:
    for plural in ("customeralerts", "customerreceivers"):
        for item in cluster.items("alertplane.io/v1alpha1", plural, ns):
            conditions = (item.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Mirrored" and c["status"] == "True" for c in conditions):
                return False
    return True


@pytest.mark.parametrize("mirror", [False, True], ids=["no-database", "postgresql-mirror"])
def test_restart_patches_no_status_of_unchanged_objects(
    cluster: Cluster, tmp_path: Path, mirror: bool, request: pytest.FixtureRequest
) -> None:
    # With a mirror, the Mirrored condition must not flip to False and back while the
    # restarted operator compares the database with the cluster.
    ns = "restart-mirror" if mirror else "restart-noop"
    cluster.namespace(ns, ns)
    values = {
        "sink": {"type": "configmap", "namespace": SINK_NS},
        "watchNamespaces": [ns],
        "resyncInterval": 1,  # resyncs, too, must write nothing here
    }
    chart = chart_operator(cluster.env, values, "noop")
    args = [*chart.args(), f"--platform-config={EXAMPLES / 'platform.yaml'}"]
    if mirror:
        args.append(f"--db={request.getfixturevalue('postgres').create_database(ns)}")
    op = OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)
    names = ("HighErrorRate", "Second", "Third")
    with running(op):
        cluster.kubectl_apply(*(alert(ns, name=n) for n in names), receiver(ns))
        for n in names:
            cluster.wait_phase("CustomerAlert", ns, f"{ns}-{n.lower()}")
        cluster.wait_phase("CustomerReceiver", ns, f"{ns}-oncall")
        if mirror:
            wait_for(lambda: mirrored_everywhere(cluster, ns), 30, "every object mirrored")
        before = versions(cluster, ns)
        assert len(before) == 4
    with running(op):  # a new process: its counters start at 0
        # Every object is composed and compared once after the first sync...
        wait_for(
            lambda: series(op, 'alertplane_status_patches_total{outcome="unchanged"}') >= 4,
            30,
            "every status compared",
        )
        after_resyncs(op, 1)
        # ... and none was written: not by the publisher, not by anything else.
        assert series(op, 'alertplane_status_patches_total{outcome="ok"}') == 0
        assert versions(cluster, ns) == before


def test_resync_repairs_edited_and_deleted_configmaps(cluster: Cluster, tmp_path: Path) -> None:
    ns = "resync-cm"
    cluster.namespace(ns, ns)
    values = {
        "sink": {"type": "configmap", "namespace": SINK_NS},
        "watchNamespaces": [ns],
        "resyncInterval": 1,
    }
    chart = chart_operator(cluster.env, values, "rscm")
    args = chart.args()
    assert "--resync-interval=1" in args
    args.append(f"--platform-config={EXAMPLES / 'platform.yaml'}")
    rules = api_path("v1", "configmaps", SINK_NS, f"alertplane-rules-{ns}")
    am = api_path("v1", "configmaps", SINK_NS, "alertplane-alertmanager")
    op = OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)
    with running(op):
        cluster.kubectl_apply(alert(ns))
        cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")
        original = wait_for(lambda: cluster.api.get(rules), 10, "rules ConfigMap")
        rendered = original["data"][f"{ns}.yml"]
        assert "HighErrorRate" in rendered

        # While everything matches, resyncs compare and write nothing.
        written = {
            p: (cluster.api.get(p) or {})["metadata"]["resourceVersion"] for p in (rules, am)
        }
        after_resyncs(op)
        assert {p: (cluster.api.get(p) or {})["metadata"]["resourceVersion"] for p in written} == (
            written
        )
        assert series(op, "alertplane_resync_repairs_total") == 0

        cluster.api.merge_patch(rules, {"data": {f"{ns}.yml": "groups: []\n"}})  # a hand edit
        wait_for(
            lambda: (cluster.api.get(rules) or {}).get("data", {}).get(f"{ns}.yml") == rendered,
            30,
            "edited ConfigMap repaired",
        )
        cluster.api.delete(rules)
        repaired = wait_for(lambda: cluster.api.get(rules), 30, "deleted ConfigMap recreated")
        assert repaired["data"][f"{ns}.yml"] == rendered
        assert series(op, "alertplane_resync_repairs_total") >= 2


def test_resync_repairs_promop_objects_and_recopies_rotated_secrets(
    cluster: Cluster, tmp_path: Path
) -> None:
    ns = "resync-po"
    cluster.namespace(ns, ns)
    cluster.secret(ns, "pd", {"routing-key": "first-key"})
    values = {
        "sink": {
            "type": "prometheus-operator",
            "namespace": SINK_NS,
            "prometheusOperator": NO_PROMOP_TARGETS,
        },
        "watchNamespaces": [ns],
        "resyncInterval": 1,
    }
    chart = chart_operator(cluster.env, values, "rspo")
    rule = api_path(PROMOP_V1, "prometheusrules", SINK_NS, f"alertplane-{ns}")
    amconfig = api_path(PROMOP_V1ALPHA1, "alertmanagerconfigs", SINK_NS, f"alertplane-{ns}")
    copied = api_path("v1", "secrets", SINK_NS, f"alertplane-{ns}")
    op = OperatorProcess(cluster.env, chart.args(), tmp_path / "operator.log", chart.kubeconfig)
    with running(op):
        pagerduty = [{"routingKeySecretRef": {"name": "pd", "key": "routing-key"}}]
        cluster.kubectl_apply(alert(ns), receiver(ns, webhook=DROP, pagerduty=pagerduty))
        cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")
        cluster.wait_phase("CustomerReceiver", ns, f"{ns}-oncall")

        def copy() -> set[str]:
            secret = cluster.api.get(copied) or {}
            return {base64.b64decode(v).decode() for v in (secret.get("data") or {}).values()}

        wait_for(lambda: copy() == {"first-key"}, 10, "Secret copied")
        spec = (cluster.api.get(rule) or {})["spec"]
        # While everything matches, resyncs compare and write nothing (no normalisation by
        # the API server makes our objects look different from what we wrote).
        generations = {p: (cluster.api.get(p) or {})["metadata"] for p in (rule, amconfig, copied)}
        after_resyncs(op)
        for p, meta in generations.items():
            assert (cluster.api.get(p) or {})["metadata"]["resourceVersion"] == meta[
                "resourceVersion"
            ], p

        cluster.secret(ns, "pd", {"routing-key": "rotated-key"})  # rotation: no spec change
        wait_for(lambda: copy() == {"rotated-key"}, 30, "rotated Secret re-copied")

        cluster.api.merge_patch(rule, {"spec": {"groups": []}})  # a hand edit
        wait_for(lambda: (cluster.api.get(rule) or {}).get("spec") == spec, 30, "rule repaired")
        cluster.api.delete(amconfig)
        wait_for(lambda: cluster.api.get(amconfig), 30, "AlertmanagerConfig recreated")

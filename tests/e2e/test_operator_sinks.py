"""The operator's other sinks and modes on a real API server: files (live in a real
Prometheus and Alertmanager), ConfigMaps (compared with tests/golden/operator/configmap/),
and prometheus-operator in namespace mode (Secrets read through the watched namespace's Role).

Each test runs its own operator, watching only its namespaces (the namespace-list mode),
as the Helm chart deploys it: flags and RBAC rendered from the chart for that sink, and no
refused (403) request in its log.
"""

from __future__ import annotations

import base64
from pathlib import Path

from alertplane.kube.paths import api_path
from alertplane.render.yamlout import dump
from tests.support.chart_env import NO_PROMOP_TARGETS
from tests.support.factories import DROP, alert, receiver
from tests.support.operator_env import (
    EXAMPLE_CUSTOMERS,
    Cluster,
    OperatorProcess,
    chart_operator,
    compare_golden,
    condition,
    running,
    setup_examples,
    wait_for,
)
from tests.support.paths import EXAMPLES
from tests.support.processes import Alertmanager, Prometheus

SINK_NS = "monitoring"


def test_files_sink_rules_are_live_in_prometheus(cluster: Cluster, tmp_path: Path) -> None:
    ns = "files-co"
    cluster.namespace(ns, ns)
    out = tmp_path / "out"
    (out / "rules").mkdir(parents=True)
    am = Alertmanager(out / "alertmanager.yml")
    with Prometheus(out / "rules") as prom:
        values = {
            "sink": {"type": "files", "files": {"out": str(out)}},
            "watchNamespaces": [ns],
            "prometheusUrl": prom.url,
            "alertmanagerUrl": am.url,
        }
        chart = chart_operator(cluster.env, values, "files")
        args = chart.args()
        assert args == [
            f"--namespace={ns}", "--sink=files", f"--out={out}", f"--prometheus-url={prom.url}",
            f"--alertmanager-url={am.url}", "--tenant-binding", "--resync-interval=300",
        ]  # fmt: skip
        op = OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)
        with running(op):
            am.start()  # needs the alertmanager.yml the operator's first sync wrote
            try:
                cluster.kubectl_apply(alert(ns), receiver(ns))
                st = cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")["status"]
                assert condition(st, "Synced")["reason"] == "Reloaded"
                assert st["renderedTo"] == [f"rules/{ns}.yml"]
                rules = {(r["group"], r["name"]): r for r in prom.rules()}
                live = rules[(f"{ns}-application", "HighErrorRate")]
                assert live["query"] == f'rate(errors_total{{customer_id="{ns}"}}[5m]) > 1'
                assert live["labels"]["customer_id"] == ns

                st = cluster.wait_phase("CustomerReceiver", ns, f"{ns}-oncall")["status"]
                assert condition(st, "Synced")["reason"] == "Reloaded"
                assert f"{ns}/oncall" in am.status()["config"]["original"]

                cluster.env.kubectl("delete", "customeralert", f"{ns}-higherrorrate", "-n", ns)
                wait_for(
                    lambda: not [r for r in prom.rules() if r["group"].startswith(f"{ns}-")],
                    20,
                    "rule removed from Prometheus",
                )
                assert not (out / "rules" / f"{ns}.yml").exists()
            finally:
                am.close()


def test_configmap_sink_matches_golden(
    cluster: Cluster, tmp_path: Path, update_golden: bool
) -> None:
    setup_examples(cluster)
    # Namespace mode: Roles in the watched namespaces (and Namespaces read access).
    values = {
        "sink": {"type": "configmap", "namespace": SINK_NS},
        "watchNamespaces": list(EXAMPLE_CUSTOMERS),
    }
    chart = chart_operator(cluster.env, values, "cm")
    args = chart.args()
    assert args == [
        *(f"--namespace={cid}" for cid in EXAMPLE_CUSTOMERS),
        "--sink=configmap", f"--sink-namespace={SINK_NS}", "--tenant-binding",
        "--resync-interval=300",
    ]  # fmt: skip
    args.append(f"--platform-config={EXAMPLES / 'platform.yaml'}")
    with running(OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)):
        cluster.env.kubectl("apply", "-f", str(EXAMPLES / "customers"))
        cluster.wait_phase("CustomerAlert", "globex", "globex-maintenance-window", ("Disabled",))
        for cid in EXAMPLE_CUSTOMERS:
            for kind in ("customeralerts", "customerreceivers"):
                names = cluster.env.kubectl("get", kind, "-n", cid, "-o", "name").stdout.split()
                for name in names:
                    kind_name = "CustomerAlert" if kind == "customeralerts" else "CustomerReceiver"
                    cluster.wait_phase(
                        kind_name, cid, name.split("/", 1)[1], ("Synced", "Disabled")
                    )
        st = cluster.status("CustomerReceiver", "acme", "acme-team")
        assert st["renderedTo"] == [f"ConfigMap {SINK_NS}/alertplane-alertmanager"]
        actual: dict[str, str] = {}
        for cm in cluster.items("v1", "configmaps", SINK_NS):
            meta = cm["metadata"]
            if meta.get("labels", {}).get("app.kubernetes.io/managed-by") != "alertplane":
                continue
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": dict(sorted(meta["labels"].items())),
                },
                "data": cm["data"],
            }
            actual[f"{meta['name']}.yaml"] = dump(body)
        compare_golden("configmap", actual, update_golden)


def test_prometheus_operator_sink_in_namespace_mode(cluster: Cluster, tmp_path: Path) -> None:
    ns = "promop-co"
    cluster.namespace(ns, ns)
    cluster.secret(ns, "pd", {"routing-key": "key-of-promop-co"})
    values = {
        "sink": {
            "type": "prometheus-operator",
            "namespace": SINK_NS,
            "prometheusOperator": NO_PROMOP_TARGETS,
        },
        "watchNamespaces": [ns],
    }
    chart = chart_operator(cluster.env, values, "po")
    args = chart.args()
    assert args == [
        f"--namespace={ns}", "--sink=prometheus-operator", f"--sink-namespace={SINK_NS}",
        "--tenant-binding", "--resync-interval=300",
    ]  # fmt: skip
    copied = api_path("v1", "secrets", SINK_NS, f"alertplane-{ns}")
    with running(OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)):
        pagerduty = [{"routingKeySecretRef": {"name": "pd", "key": "routing-key"}}]
        cluster.kubectl_apply(alert(ns), receiver(ns, webhook=DROP, pagerduty=pagerduty))
        cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")
        st = cluster.wait_phase("CustomerReceiver", ns, f"{ns}-oncall")["status"]
        assert st["renderedTo"] == [f"AlertmanagerConfig {SINK_NS}/alertplane-{ns}"]
        secret = cluster.api.get(copied)
        assert secret is not None
        copies = {base64.b64decode(v).decode() for v in secret["data"].values()}
        assert copies == {"key-of-promop-co"}
        cluster.env.kubectl("delete", "customeralerts,customerreceivers", "--all", "-n", ns)
        wait_for(lambda: cluster.api.get(copied) is None, 20, "the copied Secret removed")
        rules = api_path("monitoring.coreos.com/v1", "prometheusrules", SINK_NS, f"alertplane-{ns}")
        assert cluster.api.get(rules) is None

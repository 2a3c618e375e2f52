"""The operator's other sinks on a real API server: files (live in a real Prometheus and
Alertmanager) and ConfigMaps (compared with tests/golden/operator/configmap/).

Each test runs its own operator, watching only its namespaces (the namespace-list mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.render.yamlout import dump
from alertplane.stack.processes import Alertmanager, Prometheus
from tests.conftest import EXAMPLES
from tests.factories import alert, receiver
from tests.k8s_env import KubeEnv
from tests.operator_env import (
    EXAMPLE_CUSTOMERS,
    Cluster,
    OperatorProcess,
    compare_golden,
    condition,
    operator_rbac,
    running,
    setup_examples,
    wait_for,
)

SINK_NS = "monitoring"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with KubeEnv() as env:
        c = Cluster(env)
        c.install_crds()
        c.namespace(SINK_NS)
        yield c


def test_files_sink_rules_are_live_in_prometheus(cluster: Cluster, tmp_path: Path) -> None:
    ns = "files-co"
    cluster.namespace(ns, ns)
    out = tmp_path / "out"
    (out / "rules").mkdir(parents=True)
    am = Alertmanager(out / "alertmanager.yml")
    with Prometheus(out / "rules") as prom:
        args = [
            "--sink=files",
            f"--out={out}",
            f"--namespace={ns}",
            f"--prometheus-url={prom.url}",
            f"--alertmanager-url={am.url}",
        ]
        op = OperatorProcess(cluster.env, args, tmp_path / "operator.log")
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
    args = ["--sink=configmap", f"--sink-namespace={SINK_NS}"]
    args += [f"--namespace={cid}" for cid in EXAMPLE_CUSTOMERS]
    args.append(f"--platform-config={EXAMPLES / 'platform.yaml'}")
    # Namespace mode with only Roles in the watched namespaces (and Namespaces read access).
    token = cluster.env.create_token(SINK_NS, "alertplane-cm")
    rbac = operator_rbac(SINK_NS, "alertplane-cm", "configmap", SINK_NS, watched=EXAMPLE_CUSTOMERS)
    cluster.env.apply(*rbac)
    kubeconfig = cluster.env.write_kubeconfig(token, user="alertplane-cm")
    with running(OperatorProcess(cluster.env, args, tmp_path / "operator.log", kubeconfig)):
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

"""The operator's admission webhook on a real API server (namespace `NS`), as the Helm chart
registers it: one per test process (conftest's `hooked`), shared by the e2e and adversarial
tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support.k8s_env import KubeEnv
from tests.support.operator_env import Cluster, OperatorProcess, webhook_chart_operator
from tests.support.processes import Postgres

NS = "hook-co"


@contextmanager
def hooked_cluster(postgres: Postgres, tmp: Path) -> Iterator[tuple[Cluster, str]]:
    """A fresh API server with the CRDs, namespace `NS`, and the chart's operator serving
    its webhook (registered), mirroring into a fresh database; yields (cluster, db url)."""
    db = postgres.create_database(f"operator_{tmp.name}")
    with KubeEnv() as env:
        cluster = Cluster(env)
        cluster.install_crds()
        cluster.namespace(NS, NS)
        chart, args = webhook_chart_operator(env, tmp, NS, "hook")
        port = next(a.split("=", 1)[1] for a in args if a.startswith("--webhook-port="))
        cert, key = tmp / "tls.crt", tmp / "tls.key"
        assert port.isdigit()
        assert args == [
            f"--namespace={NS}", "--sink=configmap", "--sink-namespace=default",
            "--tenant-binding", "--resync-interval=300", f"--webhook-port={port}",
            f"--webhook-cert={cert}", f"--webhook-key={key}",
        ]  # fmt: skip
        op = OperatorProcess(env, [*args, f"--db={db}"], tmp / "operator.log", chart.kubeconfig)
        op.start()
        try:
            env.apply(chart.webhook_config())
            yield cluster, db
        finally:
            op.stop()
        op.assert_no_forbidden()


def kubectl_apply(cluster: Cluster, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cluster.env.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc), check=False)

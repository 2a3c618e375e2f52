"""The validating admission webhook on a real API server: `kubectl apply` of an invalid
object is refused with the lines `alertplane validate` prints; valid objects go through and
are audited with the user the API server authenticated.

The ValidatingWebhookConfiguration is the Helm chart's (its paths, operations, namespace
selector; only the Service is replaced by a URL, as KubeEnv has no Service routing), and the
operator runs with the chart's flags and RBAC: a path the operator does not serve would let
every invalid object through, and the refusals below would not happen.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from alertplane.stack.processes import Postgres
from tests.factories import alert, receiver
from tests.k8s_env import KubeEnv
from tests.operator_env import Cluster, OperatorProcess, wait_for, webhook_chart_operator

NS = "hook-co"


@pytest.fixture(scope="module")
def hooked(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, str]]:
    tmp = tmp_path_factory.mktemp("webhook")
    # Per use: other modules import this fixture, and a test process may run several.
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


def _kubectl_apply(cluster: Cluster, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cluster.env.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc), check=False)


def test_invalid_apply_is_refused_with_the_validate_messages(
    hooked: tuple[Cluster, str], tmp_path: Path
) -> None:
    cluster, _ = hooked
    bad = alert(NS, expr="rate(errors_total[5m]) / rate(requests_total[5m]) > 1")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    validate = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    lines = validate.stdout.splitlines()
    assert validate.returncode == 1 and len(lines) == 2  # one per selector

    # Until the webhook answers (it starts with the operator), kubectl may see a refused
    # connection; what counts is the answer once it is up.
    def refused() -> str | None:
        out = _kubectl_apply(cluster, bad)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(refused, 30, "the webhook's refusal")
    for line in lines:
        assert line in stderr
    assert cluster.get("CustomerAlert", NS, f"{NS}-higherrorrate") is None

    duplicate = receiver(NS, name="pager") | {"metadata": {"name": "dup", "namespace": NS}}
    assert _kubectl_apply(cluster, receiver(NS, name="pager")).returncode == 0
    out = _kubectl_apply(cluster, duplicate)
    assert out.returncode != 0
    assert "spec.receiverName: customer 'hook-co' already has receiver 'pager'" in out.stderr


def test_valid_apply_passes_and_is_audited_with_the_user(hooked: tuple[Cluster, str]) -> None:
    cluster, db = hooked
    good = alert(NS, name="Fine")
    out = _kubectl_apply(cluster, good)
    assert out.returncode == 0, out.stderr
    cluster.wait_phase("CustomerAlert", NS, f"{NS}-fine")
    edited = alert(NS, name="Fine", severity="warning")
    assert _kubectl_apply(cluster, edited).returncode == 0
    cluster.wait_phase("CustomerAlert", NS, f"{NS}-fine")

    expected = 2

    def rows() -> list[dict[str, Any]] | None:
        engine = create_engine(db)
        try:
            with engine.connect() as conn:
                found = [
                    dict(r._mapping)
                    for r in conn.execute(
                        text("SELECT * FROM audit WHERE name = :n ORDER BY id"), {"n": f"{NS}-fine"}
                    )
                ]
        finally:
            engine.dispose()
        return found if len(found) == expected else None

    created, updated = wait_for(rows, 20, "two audit rows")
    assert (created["action"], updated["action"]) == ("create", "update")
    # The token file names this user (tests/k8s_env.py); the webhook saw it.
    assert created["actor"] == updated["actor"] == "kubeenv-admin"

    cluster.env.kubectl("delete", "customeralert", f"{NS}-fine", "-n", NS)
    expected = 3
    *_, deleted = wait_for(rows, 20, "the delete audit row")
    assert (deleted["action"], deleted["actor"]) == ("delete", "kubeenv-admin")

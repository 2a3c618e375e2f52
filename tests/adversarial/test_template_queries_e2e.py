"""Templates that run queries, on a real API server: the operator marks a CustomerAlert whose
annotation runs an unscoped query `Invalid` (nothing rendered), and the admission webhook
denies the same object with the line `alertplane validate` prints. The operator runs with
the chart's flags and RBAC; the webhook configuration is the chart's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.factories import alert
from tests.support.k8s_env import KubeEnv
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    condition,
    wait_for,
    webhook_chart_operator,
)
from tests.support.problems import unplaced

NS = "tq-co"
LEAK = '{{ range query "up" }}{{ .Labels.instance }} {{ end }}'
SCOPED = '{{ range query "up{customer_id=\\"tq-co\\"}" }}{{ .Labels.instance }} {{ end }}'


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict[str, Any]]]:
    """The cluster and the operator (serving its webhook); the webhook configuration is
    returned, not yet registered, so a test sees the operator's own verdict first."""
    tmp = tmp_path_factory.mktemp("template-queries")
    with KubeEnv() as env:
        cluster = Cluster(env)
        cluster.install_crds()
        cluster.namespace(NS, NS)
        chart, args = webhook_chart_operator(env, tmp, NS, "tq")
        op = OperatorProcess(env, args, tmp / "operator.log", chart.kubeconfig)
        op.start()
        try:
            yield cluster, chart.webhook_config()
        finally:
            op.stop()
        op.assert_no_forbidden()


def _validate_line(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    (line,) = unplaced(out.stdout).splitlines()  # (positions: test_positions.py)
    return line


def test_operator_marks_it_invalid_and_the_webhook_denies_it(
    operated: tuple[Cluster, dict[str, Any]], tmp_path: Path
) -> None:
    cluster, webhook = operated
    leaky = alert(NS, name="Leak", annotations={"description": LEAK})
    line = _validate_line(tmp_path, leaky)
    prefix = f"CustomerAlert {NS}/{NS}-leak: "
    assert line == (
        f'{prefix}spec.annotations.description: template runs query "up": selector up{{}} '
        f'has no customer_id="{NS}" matcher; add customer_id="{NS}" inside its braces'
    )

    # The operator: Invalid with the validate message, nothing rendered for it.
    cluster.kubectl_apply(leaky)
    st = cluster.wait_phase("CustomerAlert", NS, f"{NS}-leak", ("Invalid",), timeout=120)["status"]
    valid = condition(st, "Valid")
    assert (valid["status"], valid["message"]) == ("False", line.removeprefix(prefix))
    rendered = cluster.env.kubectl("get", "configmaps", "-n", "default", "-o", "yaml").stdout
    assert "range query" not in rendered

    # The webhook: the same object (a new one, and an edit of a valid one) is denied.
    cluster.env.apply(webhook)
    again = alert(NS, name="Leak2", annotations={"description": LEAK})

    def denied() -> str | None:
        out = cluster.env.kubectl("apply", "-f", "-", input=yaml.safe_dump(again), check=False)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(denied, 60, "the webhook's refusal")
    assert line.removeprefix(prefix) in stderr
    assert cluster.get("CustomerAlert", NS, f"{NS}-leak2") is None

    scoped = alert(NS, name="Scoped", annotations={"description": SCOPED})
    cluster.kubectl_apply(scoped)
    cluster.wait_phase("CustomerAlert", NS, f"{NS}-scoped", timeout=120)  # Synced
    edit = alert(NS, name="Scoped", labels={"team": '{{ "up" | query | len }}'})
    out = cluster.env.kubectl("apply", "-f", "-", input=yaml.safe_dump(edit), check=False)
    assert out.returncode != 0
    assert "spec.labels.team: the template pipes a computed value into query" in out.stderr

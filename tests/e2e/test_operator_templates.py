"""Templates and rule tests with the operator on a real kube-apiserver: an alert from the
platform's catalogue (params as text, as the CRD has them) is admitted, instantiated with
the tenant's matcher and rendered into the customer's PrometheusRule; a parameter out of
range and a failing rule test make the object Invalid with validate's words."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart_env import NO_PROMOP_TARGETS
from tests.support.factories import DROP, alert
from tests.support.operator_env import Cluster, OperatorProcess, chart_operator, condition
from tests.support.paths import EXAMPLES
from tests.support.problems import unplaced
from tests.support.processes import Postgres

SINK_NS = "monitoring"
_dbs = itertools.count()


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    tmp = tmp_path_factory.mktemp("operator-templates")
    platform = yaml.safe_load((EXAMPLES / "platform.yaml").read_text())
    platform.update(yaml.safe_load((EXAMPLES / "platform-templates.yaml").read_text()))
    path = tmp / "platform.yaml"
    path.write_text(yaml.safe_dump(platform))
    sink = {"type": "prometheus-operator", "namespace": SINK_NS,
            "prometheusOperator": NO_PROMOP_TARGETS}  # fmt: skip
    chart = chart_operator(cluster.env, {"sink": sink}, "tpl")
    db = postgres.create_database(f"operator_templates_{next(_dbs)}")
    args = [*chart.args(), f"--db={db}", f"--platform-config={path}"]
    op = OperatorProcess(cluster.env, args, tmp / "operator.log", chart.kubeconfig).start()
    yield op
    op.stop()
    op.assert_no_forbidden()


def _validate(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(doc))
    platform = tmp_path / "p.yaml"
    platform.write_text((EXAMPLES / "platform-templates.yaml").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path),
         "--platform-config", str(platform)],
        capture_output=True, text=True,
    )  # fmt: skip
    (line,) = unplaced(out.stdout).splitlines()  # (positions: test_positions.py)
    return line


def test_a_templated_alert_and_its_tests_in_the_cluster(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    ns = "tpl-co"
    cluster.namespace(ns, ns)
    params = {"selector": 'job="api"', "threshold": "0.1"}
    good = alert(ns, "ApiErrors", expr=DROP, annotations=DROP,
                 template={"name": "error-ratio", "params": params})  # fmt: skip
    cluster.kubectl_apply(good)
    st = cluster.wait_phase("CustomerAlert", ns, f"{ns}-apierrors", timeout=90)["status"]
    assert st["renderedTo"] == [f"PrometheusRule {SINK_NS}/alertplane-{ns}"]
    rule = cluster.api.get(
        f"/apis/monitoring.coreos.com/v1/namespaces/{SINK_NS}/prometheusrules/alertplane-{ns}"
    )
    assert rule is not None
    (rendered,) = rule["spec"]["groups"][0]["rules"]
    assert f'job="api",customer_id="{ns}"}}[5m]' in rendered["expr"]
    assert rendered["expr"].rstrip().endswith("> 0.1") and rendered["for"] == "5m"

    wide = alert(ns, "TooWide", expr=DROP, annotations=DROP,
                 template={"name": "error-ratio", "params": {"threshold": "0.9"}})  # fmt: skip
    line = _validate(tmp_path, wide)
    cluster.kubectl_apply(wide)
    st = cluster.wait_phase("CustomerAlert", ns, f"{ns}-toowide", ("Invalid",), timeout=90)
    assert condition(st["status"], "Valid")["message"] == line.split(": ", 1)[1]

    test = {
        "inputSeries": [{"series": 'errors_total{service="a"}', "values": "0x20"}],
        "alertRuleTests": [{"evalTime": "10m", "expAlerts": [{"expLabels": {"service": "a"}}]}],
    }
    failing = alert(ns, "Tested", tests=[test])
    cluster.kubectl_apply(failing)
    st = cluster.wait_phase("CustomerAlert", ns, f"{ns}-tested", ("Invalid",), timeout=90)
    message = condition(st["status"], "Valid")["message"]
    assert message.startswith("spec.tests[0]: the test fails: alertname: Tested, time: 10m")

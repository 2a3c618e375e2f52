"""CustomerSLO on a real kube-apiserver with the operator as a process (the chart's RBAC, the
prometheus-operator sink): a valid SLO is Synced and its group is in the customer's
PrometheusRule with customer_id on every recording rule; an SLO whose query selects every
customer is Invalid with exactly the line `alertplane validate` prints; the CRD's own rules
(CEL) refuse both errorQuery and goodQuery, reserved alert labels and an objective of 100
at the API server; `kubectl get customerslos` shows its columns."""

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
from tests.support.operator_env import Cluster, OperatorProcess, chart_operator, condition
from tests.support.paths import EXAMPLES
from tests.support.problems import unplaced
from tests.support.processes import Postgres
from tests.support.slo import slo

SINK_NS = "monitoring"
_dbs = itertools.count()


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    db = postgres.create_database(f"operator_slo_{next(_dbs)}")
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    sink = {"type": "prometheus-operator", "namespace": SINK_NS}
    chart = chart_operator(
        cluster.env, {"sink": {**sink, "prometheusOperator": NO_PROMOP_TARGETS}}, "po"
    )
    args = [*chart.args(), f"--db={db}", f"--platform-config={EXAMPLES / 'platform.yaml'}"]
    op = OperatorProcess(cluster.env, args, log, chart.kubeconfig).start()
    yield op
    op.stop()
    op.assert_no_forbidden()


def _rules(cluster: Cluster, customer: str) -> dict[str, Any] | None:
    return cluster.api.get(
        f"/apis/monitoring.coreos.com/v1/namespaces/{SINK_NS}/prometheusrules/alertplane-{customer}"
    )


def test_slo_synced_into_the_prometheusrule(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.namespace("slo-co", "slo-co")
    cluster.kubectl_apply(slo("slo-co"))
    obj = cluster.wait_phase("CustomerSLO", "slo-co", "slo-co-checkout", timeout=60)
    st = obj["status"]
    assert condition(st, "Valid")["status"] == "True"
    assert st["renderedTo"] == [f"PrometheusRule {SINK_NS}/alertplane-slo-co"]
    rule = _rules(cluster, "slo-co")
    assert rule is not None
    (group,) = rule["spec"]["groups"]
    assert group["name"] == "slo-co-slo-checkout"
    records = [r for r in group["rules"] if "record" in r]
    alerts = [r for r in group["rules"] if "alert" in r]
    assert len(records) == 11 and len(alerts) == 2
    assert {r["labels"]["customer_id"] for r in group["rules"]} == {"slo-co"}
    assert [a["labels"]["severity"] for a in alerts] == ["critical", "warning"]

    rows = cluster.env.kubectl("get", "customerslos", "-n", "slo-co").stdout.splitlines()
    assert rows[0].split() == ["NAME", "CUSTOMER", "SLO", "OBJECTIVE", "ENABLED", "PHASE", "AGE"]
    assert rows[1].split()[:6] == [
        "slo-co-checkout",
        "slo-co",
        "checkout",
        "99.9",
        "true",
        "Synced",
    ]


def test_invalid_slo_is_reported_like_validate(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    cluster.namespace("slo-bad", "slo-bad")
    events = {
        "errorQuery": 'sum(rate(e{code="500"}[{{.window}}]))',
        "totalQuery": 'sum(rate(e{customer_id="slo-bad"}[{{.window}}]))',
    }
    bad = slo("slo-bad", sli={"events": events})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    validate = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "--no-tools", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 1, validate.stdout + validate.stderr
    prefix = "CustomerSLO slo-bad/slo-bad-checkout: "
    (line,) = unplaced(validate.stdout).splitlines()  # (positions: test_positions.py)
    assert line == (
        f'{prefix}spec.sli.events.errorQuery: selector e{{code="500"}} has no '
        'customer_id="slo-bad" matcher; add customer_id="slo-bad" inside its braces'
    )
    cluster.kubectl_apply(bad)
    obj = cluster.wait_phase("CustomerSLO", "slo-bad", "slo-bad-checkout", ("Invalid",), 60)
    valid = condition(obj["status"], "Valid")
    assert (valid["status"], valid["message"]) == ("False", line.removeprefix(prefix))
    assert _rules(cluster, "slo-bad") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"sli": {"events": {"errorQuery": "a", "goodQuery": "b", "totalQuery": "c"}}},
            "give exactly one of errorQuery and goodQuery",
        ),
        (
            {"alerting": {"pageAlertName": "P", "ticketAlertName": "T", "labels": {"slo": "x"}}},
            "labels may not set customer_id, severity, category, urgency, slo, slo_window, "
            "slo_severity",
        ),
        ({"objective": 100}, "spec.objective: Invalid value: 100"),
    ],
)
def test_the_api_server_refuses_what_the_crd_rules_forbid(
    cluster: Cluster, change: dict[str, Any], message: str
) -> None:
    cluster.namespace("slo-cel", "slo-cel")
    proc = cluster.env.kubectl(
        "apply", "-f", "-", input=yaml.safe_dump(slo("slo-cel", **change)), check=False
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr

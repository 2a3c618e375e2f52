"""One customer's rule file that promtool refuses without naming a rule must cost that
customer only, never every customer's sync.

An alert may be named like a recorded series (Prometheus takes any alert name), so a
customer can give an alert and a recording rule the same name and the same labels.
Prometheus loads such a file, but `promtool check rules` refuses it with its duplicate-rule
lint ("1 duplicate rule(s) found. Metric: job:x:r ..."), a message naming no group and no
rule. Before the fix that was a ToolError ("promtool rejected acme.yml without saying
why"): `alertplane validate` exited 3, and the reconciler, for which a ToolError means "the
tools are broken, nobody's input explains it", stopped every customer's sync.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alertplane.admission import RECONCILE, admit
from alertplane.manifests import load_text
from tests.support.cli import Run, in_process
from tests.support.factories import alert

CLASH = {"category": "application", "severity": "critical"}


def _record(customer: str, record: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerRecordingRule",
        "metadata": {"name": f"{customer}-clash", "namespace": customer},
        "spec": {
            "customerId": customer,
            "record": record,
            "expr": f'up{{customer_id="{customer}"}}',
            "labels": labels,
        },
    }


def _crowd() -> str:
    named = alert("acme", "job:x:r", expr='up{customer_id="acme"} == 0')
    named["metadata"]["name"] = "acme-clash-alert"
    docs = [
        named,
        _record("acme", "job:x:r", CLASH),
        alert("globex", "Fine", expr='up{customer_id="globex"} == 0'),
    ]
    return yaml.safe_dump_all(docs)


EXPECTED = (
    "Prometheus rejects acme's rules together though it accepts each alone: "
    "lint error 1 duplicate rule(s) found. Metric: job:x:r Label(s): category: application "
    "customer_id: acme severity: critical Might cause inconsistency while recording "
    "expressions"
)


def test_the_clash_marks_the_customers_rules_and_no_one_elses() -> None:
    loaded = load_text(_crowd(), "crowd.yaml")
    result = admit(loaded.documents, RECONCILE, None)  # before the fix: raises ToolError
    assert not result.refused
    marked = sorted((p.obj.namespace, p.obj.name, p.message) for p in result.marked if p.obj)
    assert marked == [
        ("acme", "acme-clash", EXPECTED),
        ("acme", "acme-clash-alert", EXPECTED),
    ]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return in_process(capsys)


def test_validate_names_the_clash_instead_of_failing(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "crowd.yaml"
    path.write_text(_crowd())
    code, out, err = run("validate", "-f", str(path))
    assert code == 1, (out, err)
    assert "promtool rejected" not in out + err
    assert f"spec: {EXPECTED}" in out + err
    assert "globex" not in out + err

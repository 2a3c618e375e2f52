"""A customer's recording rule cannot feed another customer's alerts (issue 14 §2): the
isolation check admits expressions that rewrite `customer_id` in their result
(`label_replace`, `label_join`, `count_values`, `sum by (customer_id)`), since every
selector is the customer's own; the rendered rule's `customer_id` label, which Prometheus
puts over the result's labels, gives every recorded series back to its owner. Proven with
promtool on the rendered files of both customers: globex records `job:errors:rate5m` with a
forged `customer_id="acme"` from its own (failing) series, acme records the same name from
its own (healthy) series, and acme's alert reading it never fires."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from alertplane.admission import RECONCILE, admit
from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.render.rules import render_rules
from tests.support.factories import alert, recording_rule

RECORD = "job:errors:rate5m"


def _admitted_spec(manifest: dict[str, object]) -> object:
    admission = admit([Document(Source("<t>", 1), manifest)], RECONCILE.with_tools(False))
    assert admission.problems == [], [p.text() for p in admission.problems]
    (obj,) = admission.admitted
    return obj.spec


@pytest.mark.parametrize(
    "expr",
    [
        'label_replace(sum by (job) (rate(errors_total[5m])), "customer_id", "acme", "", "")',
        'label_join(sum by (job) (rate(errors_total[5m])), "customer_id", "", "victim")',
        'count_values("customer_id", sum by (job) (rate(errors_total[5m])))',
        'sum by (job, customer_id) (label_replace(rate(errors_total[5m]), "customer_id", '
        '"acme", "", ""))',
    ],
)
def test_a_forged_customer_id_in_a_recorded_series_goes_back_to_its_owner(
    expr: str, tmp_path: Path
) -> None:
    forged = _admitted_spec(recording_rule("globex", RECORD, expr=expr, autoInject=True))
    globex = render_rules("globex", [forged])
    assert globex is not None
    (rule,) = yaml.safe_load(globex)["groups"][0]["rules"]
    assert rule["labels"] == {"customer_id": "globex"}
    own = _admitted_spec(
        recording_rule(
            "acme", RECORD, expr='sum by (job) (rate(errors_total{customer_id="acme"}[5m]))'
        )
    )
    reads = _admitted_spec(alert("acme", "Errors", expr=f'{RECORD}{{customer_id="acme"}} > 0'))
    acme = render_rules("acme", [own, reads])
    assert acme is not None
    (tmp_path / "globex.yml").write_text(globex, encoding="utf-8")
    (tmp_path / "acme.yml").write_text(acme, encoding="utf-8")
    test = {
        "rule_files": ["globex.yml", "acme.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'errors_total{customer_id="globex", job="api", victim="acme"}',
                        "values": "0+100x20",
                    },
                    {"series": 'errors_total{customer_id="acme", job="api"}', "values": "0+0x20"},
                ],
                "alert_rule_test": [{"eval_time": "15m", "alertname": "Errors", "exp_alerts": []}],
                "promql_expr_test": [
                    {
                        "expr": f"count by (customer_id) ({RECORD})",
                        "eval_time": "15m",
                        "exp_samples": [
                            {"labels": '{customer_id="acme"}', "value": 1},
                            {"labels": '{customer_id="globex"}', "value": 1},
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    done = subprocess.run(
        ["promtool", "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_the_control_without_the_forced_label_would_leak(tmp_path: Path) -> None:
    """Control: the same forged rule without alertplane's label fires acme's alert."""
    expr = (
        'label_replace(sum by (job) (rate(errors_total{customer_id="globex"}[5m])), '
        '"customer_id", "acme", "", "")'
    )
    rules = {
        "groups": [
            {"name": "g", "rules": [{"record": RECORD, "expr": expr}]},
            {
                "name": "a",
                "rules": [{"alert": "Errors", "expr": f'{RECORD}{{customer_id="acme"}} > 0'}],
            },
        ]
    }
    (tmp_path / "r.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    test = {
        "rule_files": ["r.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'errors_total{customer_id="globex", job="api"}',
                        "values": "0+100x20",
                    }
                ],
                "alert_rule_test": [{"eval_time": "15m", "alertname": "Errors", "exp_alerts": []}],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    done = subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert 'customer_id="acme"' in done.stdout + done.stderr

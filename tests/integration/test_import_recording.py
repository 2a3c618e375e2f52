"""Per-customer recording rules from a real mixin (issue 14 §2): Grafana Mimir's compiled
mixin, whose alerts read the series its recording rules record, through `alertplane import`
→ `validate` → `render` → promtool, in real processes.

- Every one of its 122 recording rules converts, validates and renders (false rejections: 0;
  nine of them share one record name, told apart by their labels).
- `promtool test rules` on the rendered file: an imported alert that reads a recorded series
  fires on the customer's own series only, with another customer's identical (and worse)
  series present, and the recorded series carry customer_id. The same test on the
  upstream rules fails: it would catch a leak.
Corpus and licences: tests/support/import_corpus.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.test_import_corpus import promtool_test, run
from tests.support.import_corpus import MIMIR_ALERTS, MIMIR_RULES, path
from tests.support.paths import EXAMPLES

RECORD = "cluster_namespace_job_route:cortex_request_duration_seconds:99quantile"
ALERT = "MimirRequestLatency"  # reads RECORD
SHARED = "cluster_namespace_deployment_reason:required_replicas:count"


def _import(tmp_path: Path, *files: Path, customer: str = "acme") -> Path:
    out = tmp_path / f"imported-{customer}"
    args = [a for f in files for a in ("-f", str(f))]
    proc = run("import", *args, "--customer", customer, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def _render(tmp_path: Path, *dirs: Path) -> Path:
    rendered = tmp_path / "rendered"
    args = [a for d in dirs for a in ("-f", str(d))]
    platform = str(EXAMPLES / "platform.yaml")
    proc = run("render", *args, "--platform-config", platform, "--out", str(rendered))
    assert proc.returncode == 0, proc.stderr
    return rendered


def test_every_recording_rule_of_the_mixin_imports_validates_and_renders(tmp_path: Path) -> None:
    upstream = yaml.safe_load(path(MIMIR_RULES).read_text(encoding="utf-8"))
    records = [r["record"] for g in upstream["groups"] for r in g["rules"] if "record" in r]
    assert len(records) == 122 and records.count(SHARED) == 9
    out = tmp_path / "imported"
    proc = run("import", "-f", str(path(MIMIR_RULES)), "--customer", "acme", "--out", str(out))
    assert proc.returncode == 0 and "122 imported, 0 refused" in proc.stderr, proc.stderr
    valid = run("validate", "-f", str(out))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "122 valid, 0 invalid, 0 problem(s)" in valid.stderr
    rendered = _render(tmp_path, out)
    data = yaml.safe_load((rendered / "rules/acme.yml").read_text(encoding="utf-8"))
    assert [g["name"] for g in data["groups"]] == ["acme-records"]
    rules = data["groups"][0]["rules"]
    assert sorted(r["record"] for r in rules) == sorted(records)
    assert all(r["labels"]["customer_id"] == "acme" for r in rules)
    assert all('customer_id="acme"' in r["expr"] for r in rules)
    check = run_promtool("check", "rules", str(rendered / "rules/acme.yml"))
    assert "SUCCESS: 122 rules found" in check, check


def run_promtool(*args: str) -> str:
    import subprocess

    done = subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _latency_series(customer: str, slow: bool) -> list[dict[str, str]]:
    """A minute's requests per minute of one route, all within 1s (fast) or 1s-5s (slow)."""
    labels = f'customer_id="{customer}", cluster="c", namespace="mimir", job="mimir/querier"'
    labels += ', route="api_v1_query"'
    name = "cortex_request_duration_seconds_bucket"
    fast = "0+0x40" if slow else "0+60x40"
    return [
        {"series": f'{name}{{{labels}, le="1"}}', "values": fast},
        {"series": f'{name}{{{labels}, le="5"}}', "values": "0+60x40"},
        {"series": f'{name}{{{labels}, le="+Inf"}}', "values": "0+60x40"},
    ]


def _tests(rule_file: Path, acme_slow: bool, labelled: bool) -> dict[str, Any]:
    series = _latency_series("acme", acme_slow) + _latency_series("globex", True)
    expected = []
    if acme_slow:
        labels = {
            "alertname": ALERT,
            "severity": "warning",
            "customer_id": "acme",
            "cluster": "c",
            "namespace": "mimir",
            "job": "mimir/querier",
            "route": "api_v1_query",
        }
        if labelled:
            labels["category"] = "infrastructure"
        notes = {
            "message": "mimir/querier api_v1_query is experiencing 4.96s 99th percentile "
            "latency.\n",
            "runbook_url": "https://grafana.com/docs/mimir/latest/operators-guide/"
            "mimir-runbooks/#mimirrequestlatency",
        }
        expected.append({"exp_labels": labels, "exp_annotations": notes})
    return {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "30m", "alertname": ALERT, "exp_alerts": expected}
                ],
                "promql_expr_test": [
                    {
                        "expr": f"count by (customer_id) ({RECORD})",
                        "eval_time": "30m",
                        "exp_samples": [
                            {"labels": '{customer_id="acme"}', "value": 1}
                            if labelled
                            else {"labels": "{}", "value": 1}
                        ],
                    }
                ],
            }
        ],
    }


def _acme_rules(tmp_path: Path) -> Path:
    """The mixin's recording rules and the alert reading RECORD, imported for acme."""
    alerts = yaml.safe_load(path(MIMIR_ALERTS).read_text(encoding="utf-8"))
    (rule,) = [r for g in alerts["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    one = tmp_path / "alert.yaml"
    one.write_text(yaml.safe_dump({"groups": [{"name": "mimir_alerts", "rules": [rule]}]}))
    out = tmp_path / "imported"
    args = ["-f", str(path(MIMIR_RULES)), "-f", str(one), "--category", "infrastructure"]
    proc = run("import", *args, "--customer", "acme", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return _render(tmp_path, out) / "rules/acme.yml"


def test_an_alert_reading_a_recorded_series_fires_on_the_customers_own_series_only(
    tmp_path: Path,
) -> None:
    rules = _acme_rules(tmp_path)
    for acme_slow in (True, False):  # globex is slow in both: it must never show
        proc = promtool_test(tmp_path, _tests(rules, acme_slow, labelled=True))
        assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_the_same_test_catches_the_upstream_rules_leaking(tmp_path: Path) -> None:
    """Control: upstream's recording rule aggregates customer_id away, and its alert reads
    every customer's recorded series: with acme fast, globex's latency still fires."""
    alerts = yaml.safe_load(path(MIMIR_ALERTS).read_text(encoding="utf-8"))
    (rule,) = [r for g in alerts["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    upstream = yaml.safe_load(path(MIMIR_RULES).read_text(encoding="utf-8"))
    upstream["groups"].append({"name": "mimir_alerts", "rules": [rule]})
    file = tmp_path / "upstream.yml"
    file.write_text(yaml.safe_dump(upstream), encoding="utf-8")
    proc = promtool_test(tmp_path, _tests(file, acme_slow=False, labelled=False))
    assert proc.returncode == 1, proc.stdout
    output = proc.stdout + proc.stderr
    # The leak: an alert without any customer_id (acme and globex summed into one series),
    # fired by globex's latency, where the customer (fast) expected none.
    assert "exp:[], \n        got:[" in output, output
    assert f'Labels:{{alertname="{ALERT}", cluster="c", job="mimir/querier"' in output, output
    assert "expr:" not in output  # the recorded series are as upstream records them

"""The shipped self-monitoring rules fire when they should (promtool test rules)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT

RULES = ROOT / "deploy" / "alertplane-self.rules.yml"

TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'alertplane_syncs_total{{instance="a:8080", outcome="reload_failed"}}'
        values: '0+1x30'
      - series: 'alertplane_syncs_total{{instance="a:8080", outcome="ok"}}'
        values: '5x30'
      - series: 'alertplane_reloads_total{{instance="a:8080", target="prometheus", outcome="error"}}'
        values: '0+1x30'
      - series: 'alertplane_sync_queue_customers{{instance="a:8080"}}'
        values: '3x30'
      - series: 'alertplane_last_successful_sync_timestamp_seconds{{instance="a:8080"}}'
        values: '0x30'
      - series: 'alertplane_objects{{instance="a:8080", kind="CustomerAlert", phase="Invalid"}}'
        values: '2x60'
      - series: 'up{{job="alertplane", instance="a:8080"}}'
        values: '1 1 0x20'
    alert_rule_test:
      - eval_time: 20m
        alertname: AlertplaneSyncFailing
        exp_alerts:
          - exp_labels: {{severity: critical, instance: "a:8080", outcome: reload_failed}}
            exp_annotations:
              summary: alertplane on a:8080 cannot write or reload configuration
              description: Every sync in the last 10 minutes failed to write or reload. Customers' changes are not reaching Prometheus/Alertmanager. Check the alertplane log and the reload URLs.
      - eval_time: 20m
        alertname: AlertplaneReloadErrors
        exp_alerts:
          - exp_labels: {{severity: warning, instance: "a:8080", target: prometheus, outcome: error}}
            exp_annotations:
              summary: prometheus reloads from alertplane keep failing
              description: 15 failed reloads of prometheus in 15 minutes.
      - eval_time: 20m
        alertname: AlertplaneSyncStale
        exp_alerts:
          - exp_labels: {{severity: warning, instance: "a:8080"}}
            exp_annotations:
              summary: alertplane has changes waiting but no successful sync for 15 minutes
      - eval_time: 10m
        alertname: AlertplaneSyncStale
        exp_alerts: []
      - eval_time: 45m
        alertname: AlertplaneInvalidObjects
        exp_alerts:
          - exp_labels: {{severity: info, instance: "a:8080", kind: CustomerAlert}}
            exp_annotations:
              summary: 2 CustomerAlert object(s) have been invalid for 30 minutes
      - eval_time: 10m
        alertname: AlertplaneDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: alertplane, instance: "a:8080"}}
            exp_annotations:
              summary: alertplane is not being scraped; configuration changes are not applied
"""


def test_self_monitoring_rules_fire(tmp_path: Path) -> None:
    spec = tmp_path / "selfmon_test.yml"
    spec.write_text(TESTS.format(rules=RULES), encoding="utf-8")
    proc = subprocess.run(
        ["promtool", "test", "rules", str(spec)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_self_monitoring_rules_are_valid() -> None:
    proc = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""The shipped self-monitoring rules fire when they should (promtool test rules)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

RULES = ROOT / "deploy" / "alertplane-self.rules.yml"

SELFMON_TEST = ROOT / "tests" / "promtool" / "selfmon_test.yml"


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

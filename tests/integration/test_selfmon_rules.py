"""The shipped self-monitoring rules fire when they should (promtool test rules)."""

from __future__ import annotations

import subprocess

from tests.support.paths import ROOT

RULES = ROOT / "deploy" / "alertplane-self.rules.yml"
SELFMON_TEST = ROOT / "tests" / "promtool" / "selfmon_test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def test_self_monitoring_rules_fire() -> None:
    proc = _promtool("test", "rules", str(SELFMON_TEST))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_self_monitoring_rules_are_valid() -> None:
    proc = _promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr

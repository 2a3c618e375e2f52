"""benchmarks/bench_mimir.py --quick runs end to end on the real Mimir (so the benchmark the
README's numbers come from cannot rot unnoticed)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.k8s_env import ROOT


def test_bench_mimir_quick() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "bench_mimir.py", "--quick", "--evaluation-interval", "5s"],
        cwd=ROOT / "benchmarks",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "50 rules in 2 tenants pushed" in proc.stdout
    for what in ("push", "live", "evaluated"):
        line = next(x for x in proc.stdout.splitlines() if x.startswith(f"{what}: p50 "))
        assert "nan" not in line, proc.stdout  # every change became live and was evaluated

"""benchmarks/bench_silences.py --quick runs end to end (so the benchmark the README's
numbers come from cannot rot unnoticed)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import ROOT


def test_bench_silences_quick() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "bench_silences.py", "--quick"],
        cwd=ROOT / "benchmarks",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for label in ("one Alertmanager", "3 replicas"):
        for what in ("API, one writer", "API, 16 writers", "Alertmanager direct"):
            line = next(x for x in proc.stdout.splitlines() if x.startswith(f"{label}: {what}"))
            assert "(n=20)" in line, proc.stdout
    assert "HA: created → on the last replica" in proc.stdout

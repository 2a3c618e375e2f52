"""benchmarks/bench_shards.py --quick on real Prometheus servers: the harness measures what
it claims (each change live on its customer's shard, found there by /api/v1/rules, one
server reloaded per change, every customer on exactly its shard), so its big run's numbers
mean what benchmarks/README.md says. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT


def test_quick_run_measures_every_layout(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_shards.py"), "--quick"]
    cmd += ["--json", str(out), "--tmp", str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    (size,) = json.loads(out.read_text())["sizes"]
    assert size["rules"] == 200
    rows = {row["shards"]: row for row in size["rows"]}
    assert sorted(rows) == [1, 2]
    for row in rows.values():
        assert len(row["live"]) == 3, row
        # A change reloads its customer's server and no other, with one reload call.
        assert row["servers_reloaded"] == [1, 1, 1], row
        assert row["reload_calls"] == [1, 1, 1], row
        # Live after it was made, and seen by /api/v1/rules no earlier than live.
        pairs = zip(row["live"], row["seen"], strict=True)
        assert all(0 < live <= seen for live, seen in pairs), row
        assert row["misplaced"] == 0, row
        assert row["rss_mb"] > 0 and row["start_s"] > 0, row
    assert rows[2]["sharding"] in ("own", "product")
    assert size["serve"]["rss_mb"] > 0, size
    assert not list(tmp_path.glob("shards-*")), "the run leaves no store or layout behind"

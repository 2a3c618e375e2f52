"""Core for bench_ab.py: `alertplane render` of bench_core's 10,000 alerts, as a user runs it.

Wall seconds, CPU seconds (the CLI process and the promtool/amtool runs it waits for), and,
under valgrind's callgrind on a smaller input, the instructions the Python process itself
executes (the tools run natively: `--trace-children=no`). Instruction counts barely move
with load; CPU seconds move with cache and frequency contention; wall seconds with
everything. The rendered output of every run is hashed, so the comparison also shows
whether both revisions wrote the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from ab_procs import Rev, run_measured
from workload import core_manifests

IR = re.compile(r"Collected : (\d+)")


class Core:
    """The inputs written once (same bytes for both revisions), then one run per call."""

    def __init__(self, workdir: Path, customers: int, alerts: int, ir_customers: int) -> None:
        self.workdir = workdir
        self.input = workdir / "core.yaml"
        self.input.write_text(core_manifests(customers, alerts), encoding="utf-8")
        self.ir_input = workdir / "core-small.yaml"
        if ir_customers:
            self.ir_input.write_text(core_manifests(ir_customers, alerts), encoding="utf-8")
        self.ir = bool(ir_customers) and shutil.which("valgrind") is not None

    def run(self, rev: Rev, with_ir: bool) -> dict[str, float | str]:
        with tempfile.TemporaryDirectory(dir=self.workdir) as out:
            m = run_measured(rev.cli("render", "-f", str(self.input), "--out", out), rev.env)
            res: dict[str, float | str] = {
                "core wall s": m.wall_s,
                "core CPU s": m.cpu_s,
                "core output": digest(Path(out)),
            }
        if with_ir and self.ir:
            res["core Ginstr (small)"] = self.instructions(rev)
        return res

    def instructions(self, rev: Rev) -> float:
        with tempfile.TemporaryDirectory(dir=self.workdir) as out:
            cmd = [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                "--trace-children=no",
                *rev.cli("render", "-f", str(self.ir_input), "--out", out),
            ]
            m = run_measured(cmd, rev.env)
        found = IR.findall(m.stderr)
        if not found:
            raise RuntimeError(f"no instruction count from callgrind:\n{m.stderr[-2000:]}")
        return int(found[-1]) / 1e9


def digest(root: Path) -> str:
    """A short hash of every file's relative path and bytes under `root`."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]

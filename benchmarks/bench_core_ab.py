"""bench_core.py for main and for this checkout, alternating, in CPU seconds.

    git archive main | tar -x -C /tmp/main-tree    # (or any other checkout to compare)
    python3 benchmarks/bench_core_ab.py --base /tmp/main-tree [--rounds 3] [--repeat 3]

On a machine other work keeps busy, wall-clock seconds of two runs minutes apart differ by
2-3x, which hides a 5% difference. Here each round runs bench_core.py once per tree, the
order alternating, and its clock is the CPU time of the process plus its finished
children (promtool, amtool): what the code costs, not how long it waited for a core. The
median per phase over the rounds and the ratio this/base are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DRIVER = """
import os, sys, time
def cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
time.perf_counter = cpu
import bench_core
sys.argv = ["bench_core.py", *sys.argv[1:]]
bench_core.main()
"""
ROW = re.compile(r"^(.+?)\s+([0-9.]+) s$")


def run(tree: Path, args: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree / 'operator'}:{tree / 'benchmarks'}"}
    out = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {m[1].strip(): float(m[2]) for m in map(ROW.match, out.splitlines()) if m}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, type=Path, help="a checkout of main")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--customers", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=20)
    args = ap.parse_args()
    bench = ["--repeat", str(args.repeat), "--customers", str(args.customers)]
    bench += ["--alerts", str(args.alerts)]
    trees = {"base": args.base.resolve(), "this": HERE}
    results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    for r in range(args.rounds):
        for name in ("base", "this") if r % 2 == 0 else ("this", "base"):
            load = os.getloadavg()[0]
            results[name].append(run(trees[name], bench))
            print(f"round {r + 1} {name}: load {load:.1f}", file=sys.stderr)
    print(f"# CPU seconds, median of {args.rounds} rounds (each best of {args.repeat})")
    print(f"{'phase':60s} {'base':>8s} {'this':>8s} {'ratio':>6s}  base range / this range")
    for phase in results["base"][0]:
        b = [r[phase] for r in results["base"]]
        t = [r[phase] for r in results["this"]]
        base, this = statistics.median(b), statistics.median(t)
        spread = f"{min(b):.2f}-{max(b):.2f} / {min(t):.2f}-{max(t):.2f}"
        print(f"{phase[:60]:60s} {base:8.3f} {this:8.3f} {this / base:6.3f}  {spread}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

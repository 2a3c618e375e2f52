"""Two revisions side by side: core, propagation and operator memory, interleaved.

    python3 benchmarks/bench_ab.py --base 69dc8af --head main [--rounds 3]
        [--only core,propagation,operator] [--json results.json]

Each revision is checked out into a temporary worktree (`git worktree add --detach`) and
run only through its public entry points, as subprocesses with that worktree's
`operator/` as PYTHONPATH: `alertplane render` (core), `alertplane apply` + `alertplane
serve` + its REST API against a real Prometheus/Alertmanager (propagation, serve RSS), and
`alertplane operator` on a real kube-apiserver (operator RSS). The measuring code is this
checkout's, the same for both sides, so the comparison holds when the revisions' internal
modules differ (ab_procs.py says why it imports no `alertplane`).

Every round runs each workload once per revision, the order alternating (A B, then B A),
so slow drifts of the machine's load fall on both sides alike. Per metric it prints the
median over the rounds, the ratio B/A, and each side's range. What to trust under load:
instruction counts (callgrind, `core Ginstr`) most, then CPU seconds and RSS, wall
seconds least; a difference is only one if the ranges do not overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ab_procs import Rev

ROOT = Path(__file__).resolve().parent.parent
Result = dict[str, float | str]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def worktree(name: str, rev: str, parent: Path) -> Rev:
    tree = parent / name
    git("worktree", "add", "--detach", str(tree), rev)
    return Rev(name, rev, tree, git("-C", str(tree), "rev-parse", "--short=10", "HEAD"))


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def header(args: argparse.Namespace, revs: list[Rev]) -> str:
    cpus, mem = os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    lines = [
        f"# bench_ab {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {cpus} CPUs, "
        f"{mem / 2**30:.0f} GiB, Python {platform.python_version()}; load {load()}",
        *(f"# {r.name} = {r.rev} ({r.commit})" for r in revs),
        f"# {args.rounds} rounds, order alternating; core {args.customers}×{args.alerts} "
        f"(callgrind {args.ir_customers}×{args.alerts}), propagation "
        f"{args.prop_customers}×{args.alerts} with {args.changes} changes, operator "
        f"{args.operator_objects} objects",
    ]
    return "\n".join(lines)


def report(results: dict[str, list[Result]], revs: list[Rev]) -> str:
    a, b = (results[r.name] for r in revs)
    keys = [k for k in a[0] if k in b[0]] if a and b else []
    width = max([len(k) for k in keys] + [10])
    lines = [f"{'metric':{width}s} {'A':>9s} {'B':>9s} {'B/A':>6s}  A range / B range"]
    for key in keys:
        va = [r[key] for r in a if key in r]
        vb = [r[key] for r in b if key in r]
        if isinstance(va[0], str):
            same = "identical" if set(va) == set(vb) and len(set(va)) == 1 else "DIFFER"
            lines.append(f"{key:{width}s} {va[0]!s:>9s} {vb[0]!s:>9s}  {same}")
            continue
        fa, fb = [float(v) for v in va], [float(v) for v in vb]
        ma, mb = statistics.median(fa), statistics.median(fb)
        ratio = f"{mb / ma:6.3f}" if ma else "     -"
        spread = f"{min(fa):.3f}-{max(fa):.3f} / {min(fb):.3f}-{max(fb):.3f}"
        lines.append(f"{key:{width}s} {ma:9.3f} {mb:9.3f} {ratio}  {spread}")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="revision A (commit, branch, tag)")
    ap.add_argument("--head", default="HEAD", help="revision B (default HEAD)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="core,propagation,operator")
    ap.add_argument("--customers", type=int, default=500, help="core: customers")
    ap.add_argument("--alerts", type=int, default=20, help="alerts per customer (all)")
    ap.add_argument(
        "--ir-customers",
        type=int,
        default=25,
        help="core under callgrind: customers (0: no instruction counts)",
    )
    ap.add_argument("--ir-rounds", type=int, default=2, help="rounds that run callgrind")
    ap.add_argument("--prop-customers", type=int, default=100)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--operator-objects", type=int, default=10000)
    ap.add_argument("--settle", type=float, default=5.0, help="operator: s after ready")
    ap.add_argument("--json", type=Path, help="also write every run's numbers here")
    return ap.parse_args()  # fmt: skip


def workloads(
    args: argparse.Namespace, work: Path, revs: list[Rev], only: set[str]
) -> tuple[list[tuple[str, Callable[[Rev, int], Result]]], Callable[[], None]]:
    """(name, run(rev, round)) per selected workload, and what closes them."""
    from ab_core import Core
    from ab_propagation import Propagation

    runs: list[tuple[str, Callable[[Rev, int], Result]]] = []
    closers: list[Callable[[], None]] = []
    if "core" in only:
        core = Core(work, args.customers, args.alerts, args.ir_customers)
        runs.append(("core", lambda rev, rnd: core.run(rev, rnd < args.ir_rounds)))
    if "propagation" in only:
        prop = Propagation(work, args.prop_customers, args.alerts, args.changes)
        runs.append(("propagation", lambda rev, rnd: prop.run(rev)))
    if "operator" in only:
        from ab_operator import Operator

        op = Operator(work, args.operator_objects, args.settle)
        closers.append(op.close)
        print(f"operator setup: {op.setup(revs[1])} load {load()}", file=sys.stderr, flush=True)
        runs.append(("operator", lambda rev, rnd: op.run(rev)))

    def close() -> None:
        for closer in closers:
            closer()

    return runs, close


def main() -> None:
    args = parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        work = Path(tmp)
        revs: list[Rev] = []
        try:
            for name, rev in (("A", args.base), ("B", args.head)):
                revs.append(worktree(name, rev, work))
            print(header(args, revs), flush=True)
            results: dict[str, list[Result]] = {r.name: [{} for _ in range(args.rounds)]
                                                for r in revs}  # fmt: skip
            runs, close = workloads(args, work, revs, only)
            try:
                for rnd in range(args.rounds):
                    for name, run in runs:
                        for rev in revs if rnd % 2 == 0 else revs[::-1]:
                            t0 = time.monotonic()
                            results[rev.name][rnd] |= run(rev, rnd)
                            if args.json:  # after every run: a run cut short keeps its numbers
                                args.json.write_text(json.dumps(results, indent=1))
                            print(f"round {rnd + 1} {name} {rev.name}: "
                                  f"{time.monotonic() - t0:.0f} s, load {load()}",
                                  file=sys.stderr, flush=True)  # fmt: skip
            finally:
                close()
            print(report(results, revs))
            print(f"# load at the end {load()}")
        finally:
            for rev in revs:
                git("worktree", "remove", "--force", str(rev.tree))


if __name__ == "__main__":
    main()

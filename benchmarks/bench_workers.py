"""REST API creates with 1 vs N API worker processes (`serve --workers N`), PostgreSQL.

    python3 benchmarks/bench_workers.py [--workers 1,2,4] [--requests 2000] [--clients 20]
                                        [--rounds 2] [--sqlite]

For each worker count, in rounds (1, N, …, 1, N: the machine's load drifts, so pairs are
compared, not rows): a fresh database on one real PostgreSQL (tests/support/processes.py,
as bench_api.py), a real `alertplane serve --workers N` (the reconciler in the serve
process writing rule files, the API in N processes), a warm-up, then `--requests` single
alert creates (`POST /customers/{id}/alerts`, admin token) from `--clients` threads with
keep-alive connections. Reports creates/s and p50/p90/p99/max as the clients see them,
the CPU the serve process and its workers spent per create, the load average, and checks
that exactly the acknowledged alerts and audit rows were stored. The target (issue 12):
p99 ≤ 50 ms at 20 clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_api import ApiServer, Postgres, pct, run

from alertplane.service.tokens import new_token, token_line
from alertplane.store.db import open_db
from alertplane.store.repo import Store


def one(pg: Postgres | None, tmp: Path, workers: int, args: argparse.Namespace, tag: str) -> str:
    """One measured run: a table row. Without `pg`, an SQLite file."""
    token = new_token()
    (tmp / "tokens.csv").write_text(token_line("bench", "admin", token) + "\n")
    (tmp / "platform.yaml").write_text(f"secretsDir: {tmp / 'secrets'}\n")
    url = pg.create_database(f"bench_{tag}") if pg else f"sqlite:///{tmp / f'bench_{tag}.db'}"
    serve_args = [
        "--db", url,
        "--out", str(tmp / f"out-{tag}"),
        "--platform-config", str(tmp / "platform.yaml"),
        "--tokens", str(tmp / "tokens.csv"),
        "--workers", str(workers),
    ]  # fmt: skip
    with ApiServer(tmp / f"serve-{tag}", serve_args) as server:
        if workers > 1:  # every worker started (they import for seconds on a busy machine)
            _all_serving(server.url, workers)
        run(server, token, args.warmup, args.clients, args.customers, 0, False)
        load = os.getloadavg()[0]
        cpu = cpu_s(server.proc.pid)
        lat, errors, wall = run(
            server, token, args.requests, args.clients, args.customers, 100_000, False
        )
        cpu = cpu_s(server.proc.pid) - cpu
    store = Store(open_db(url))
    try:
        total = args.warmup + args.requests
        stored = len(store.get(kind="CustomerAlert"))
        audits = len(store.history(limit=10 * total))
    finally:
        store.engine.dispose()
    ms = [x * 1000 for x in lat]
    check = (
        "ok"
        if (stored, audits, len(errors)) == (total, total, 0)
        else (
            f"MISMATCH: {stored} alerts, {audits} audit rows, {len(errors)} errors (want {total})"
        )
    )
    return (
        f"| {workers} | {len(ms) / wall:.0f} | {pct(ms, 50):.1f} | {pct(ms, 90):.1f} | "
        f"{pct(ms, 99):.1f} | {max(ms):.0f} | {1000 * cpu / len(ms):.2f} | {load:.1f} | "
        f"{check} |"
    )


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of `serve` and its API workers so far: what a create
    costs the API side, whatever else the machine runs (PostgreSQL's share is not in it)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _all_serving(url: str, workers: int, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/readyz", timeout=10) as resp:
            if json.load(resp).get("apiWorkers") == workers:
                return
        time.sleep(0.2)
    raise SystemExit(f"not all {workers} API workers serve after {timeout_s:.0f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sqlite", action="store_true", help="an SQLite file instead of PostgreSQL")
    args = ap.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{args.requests} creates, {args.clients} clients, "
        f"{'SQLite' if args.sqlite else 'PostgreSQL'}"
    )
    print(
        "| workers | creates/s | p50 ms | p90 ms | p99 ms | max ms | CPU ms/create | load "
        "| stored |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="alertplane-bench-workers-") as tmp_name:
        tmp = Path(tmp_name)
        with contextlib.ExitStack() as stack:
            pg = None if args.sqlite else stack.enter_context(Postgres())
            for r in range(args.rounds):
                for n in counts:
                    print(one(pg, tmp, n, args, f"{r}_{n}"), flush=True)


if __name__ == "__main__":
    main()

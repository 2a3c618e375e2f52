"""REST API write throughput and latency: single-alert creates from concurrent clients.

    python3 benchmarks/bench_api.py [--requests 3000] [--clients 20] [--customers 50]
    python3 benchmarks/bench_api.py --op update   # PUTs to the alerts the warm-up created

A real `alertplane serve` (uvicorn, the reconciler in the same process writing rule
files) on a real PostgreSQL (tests/support/processes.py) with the audit trail on; each
client keeps one HTTP connection and POSTs new alerts (`/customers/{id}/alerts`, admin
token), spread over `--customers` customers. Reports throughput and p50/p90/p99/max
latency as the clients see them; the target is p99 ≤ 50 ms at 20 clients. Results go
into benchmarks/README.md by hand, with the machine and date.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from alertplane.service.tokens import new_token, token_line
from alertplane.stack.processes import Process, free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store

# PostgreSQL is test infrastructure (tests/support/processes.py), not part of the product.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import Postgres


class ApiServer(Process):
    name = "alertplane-serve"

    def __init__(self, workdir: Path, args: list[str]) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--port", str(self.port)]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "alertplane.cli", "serve", *self.args]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)


def spec(customer: str, n: int, threshold: int | None = None) -> bytes:
    return json.dumps(
        {
            "alertName": f"Alert{n}",
            "category": "application" if n % 2 else "infrastructure",
            "severity": ("critical", "warning", "info")[n % 3],
            "expr": f'sum by (service) (rate(http_requests_total{{customer_id="{customer}",'
            f'code=~"5.."}}[5m])) > {n if threshold is None else threshold}',
            "for": "5m",
            "annotations": {"summary": "{{ $labels.service }} fails"},
        }
    ).encode()


def client(
    port: int,
    token: str,
    jobs: list[tuple[str, int]],
    latencies: list[float],
    errors: list[str],
    wait: bool,
    update: int = 0,
) -> None:
    """POST each job's alert; with `update`, PUT it (it exists) with that threshold."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    suffix = "?wait=true" if wait else ""
    for customer, n in jobs:
        body = spec(customer, n, update or None)
        start = time.perf_counter()
        if update:
            conn.request("PUT", f"/customers/{customer}/alerts/Alert{n}{suffix}", body, headers)
        else:
            conn.request("POST", f"/customers/{customer}/alerts{suffix}", body, headers)
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - start)
        if resp.status != (200 if update else 201):
            errors.append(f"{resp.status} for {customer}/Alert{n}")
    conn.close()


def run(
    server: ApiServer,
    token: str,
    requests: int,
    clients: int,
    customers: int,
    offset: int,
    wait: bool,
    update: tuple[int, int] | None = None,
) -> tuple[list[float], list[str], float]:
    """`update` (objects, threshold): PUT `requests` times round-robin over the alerts
    numbered 0..objects-1 (the warm-up's) instead of creating new ones."""
    if update is None:
        jobs = [(f"c{i % customers:03d}", offset + i) for i in range(requests)]
    else:
        jobs = [(f"c{i % update[0] % customers:03d}", i % update[0]) for i in range(requests)]
    shares = [jobs[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=client,
            args=(
                server.port,
                token,
                shares[i],
                latencies[i],
                errors,
                wait,
                update[1] if update else 0,
            ),
        )
        for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return [x for part in latencies for x in part], errors, wall


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, latencies: list[float], errors: list[str], wall: float) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"{label}: {len(ms)} requests in {wall:.2f}s = {len(ms) / wall:.0f} req/s; "
        f"latency ms p50 {pct(ms, 50):.1f}  p90 {pct(ms, 90):.1f}  p99 {pct(ms, 99):.1f}  "
        f"max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}; errors {len(errors)}"
    )
    for e in errors[:5]:
        print(f"  error: {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--wait-requests", type=int, default=200, help="also measure ?wait=true")
    ap.add_argument(
        "--op",
        choices=("create", "update"),
        default="create",
        help="update: PUT (a new threshold each round) to the alerts the warm-up created",
    )
    ap.add_argument(
        "--coalesce", type=float, default=0.2, help="serve --coalesce (the reconciler's window)"
    )
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory(prefix="alertplane-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        token = new_token()
        (tmp / "tokens.csv").write_text(token_line("bench", "admin", token) + "\n")
        (tmp / "platform.yaml").write_text(f"secretsDir: {tmp / 'secrets'}\n")
        with Postgres() as pg:
            url = pg.create_database("bench")
            serve_args = [
                "--db", url,
                "--out", str(tmp / "out"),
                "--platform-config", str(tmp / "platform.yaml"),
                "--tokens", str(tmp / "tokens.csv"),
                "--coalesce", str(args.coalesce),
            ]  # fmt: skip
            with ApiServer(tmp / "serve", serve_args) as server:
                lat, errors, wall = run(
                    server, token, args.warmup, args.clients, args.customers, 0, False
                )
                report("warm-up", lat, errors, wall)
                updates = 0
                if args.op == "update":
                    rounds = max(1, args.requests // args.warmup)
                    lat, errors, wall = [], [], 0.0
                    for r in range(rounds):  # each round PUTs every warm-up alert once
                        part, err, took = run(
                            server, token, args.warmup, args.clients, args.customers, 0, False,
                            (args.warmup, 1_000 + r),
                        )  # fmt: skip
                        lat, errors, wall = lat + part, errors + err, wall + took
                    report(f"update, {args.clients} clients", lat, errors, wall)
                    updates, args.requests = rounds * args.warmup, 0  # nothing created
                else:
                    lat, errors, wall = run(
                        server, token, args.requests, args.clients, args.customers, 100_000,
                        False,
                    )  # fmt: skip
                    report(f"create, {args.clients} clients", lat, errors, wall)
                if args.wait_requests:
                    lat, errors, wall = run(
                        server, token, args.wait_requests, args.clients, args.customers,
                        200_000, True,
                    )  # fmt: skip
                    report(f"create?wait=true, {args.clients} clients", lat, errors, wall)
                store = Store(open_db(url))
                total = args.warmup + args.requests + args.wait_requests
                audits = len(store.history(limit=10 * (total + updates)))
                print(
                    f"stored: {len(store.get(kind='CustomerAlert'))} alerts (expected {total}), "
                    f"{audits} audit rows (expected {total + updates})"
                )


if __name__ == "__main__":
    main()

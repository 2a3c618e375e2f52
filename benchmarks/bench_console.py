"""Console page render time with many customers: 500 customers × 20 alerts by default.

    python3 benchmarks/bench_console.py [--customers 500] [--alerts 20] [--repeat 20]

A real `alertplane serve` (uvicorn, the reconciler in the same process writing rule
files) on a real PostgreSQL (tests/support/processes.py). The store is seeded through
`Store.apply` (the path every door uses) with `--alerts` alerts and one receiver per
customer, each alert then changed once so the audit timeline has two entries per alert;
the server is started and waited for until its first full sync is done (/readyz). Then
each console page is fetched `--repeat` times by one client with a signed-in cookie (an
admin token, and a token scoped to one customer), and the time to the last byte is
reported (p50, p90, max) with the page size. Results go into benchmarks/README.md by
hand, with the machine and date.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_api import ApiServer, pct
from tests.support.processes import Postgres  # bench_api put the repository on sys.path
from workload import alert_manifest

from alertplane.console.session import COOKIE
from alertplane.service.tokens import new_token, token_line
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.validate import parse_document

BATCH = 500  # objects per Store.apply call (one transaction each)


def receiver(cid: str) -> dict[str, object]:
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerReceiver",
        "metadata": {"name": f"{cid}-oncall", "namespace": cid},
        "spec": {
            "customerId": cid,
            "receiverName": "oncall",
            "webhook": [{"url": f"http://127.0.0.1:9/{cid}"}],
            "route": {"match": {"severity": ["critical", "warning"]}},
        },
    }


def seed(url: str, customers: int, alerts: int) -> float:
    store = Store(open_db(url))
    start = time.perf_counter()
    for threshold in (1, 2):  # created, then changed once: two audit rows per alert
        docs: list[dict[str, object]] = []
        for c in range(customers):
            cid = f"c{c:03d}"
            docs.extend(alert_manifest(cid, a, threshold + a) for a in range(alerts))
            if threshold == 1:
                docs.append(receiver(cid))
        for i in range(0, len(docs), BATCH):
            objs = []
            for doc in docs[i : i + BATCH]:
                obj, problems = parse_document(doc)
                if obj is None or problems:
                    sys.exit(f"seed object invalid: {problems}")
                objs.append(obj)
            store.apply(objs, "bench", "import")
    return time.perf_counter() - start


def fetch(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[float, int, int]:
    start = time.perf_counter()
    conn.request("GET", path, headers={"cookie": f"{COOKIE}={token}"})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - start, resp.status, len(body)


def measure(port: int, label: str, path: str, token: str, repeat: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    fetch(conn, path, token)  # first request: template compilation, caches
    times, sizes = [], set()
    for _ in range(repeat):
        took, status, size = fetch(conn, path, token)
        if status != 200:
            sys.exit(f"{path}: HTTP {status}")
        times.append(took * 1000)
        sizes.add(size)
    conn.close()
    print(
        f"{label:<34} {path:<36} p50 {pct(times, 50):7.1f} ms  p90 {pct(times, 90):7.1f} ms  "
        f"max {max(times):7.1f} ms  mean {statistics.fmean(times):7.1f} ms  "
        f"{max(sizes) / 1024:7.1f} KiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=20, help="alerts per customer")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory(prefix="alertplane-bench-console-") as tmp_name:
        tmp = Path(tmp_name)
        admin, scoped = new_token(), new_token()
        focus = f"c{min(42, args.customers - 1):03d}"  # the customer whose pages are fetched
        (tmp / "tokens.csv").write_text(
            token_line("bench", "admin", admin) + "\n"
            + token_line(f"{focus}-team", f"customer:{focus}", scoped) + "\n"
        )  # fmt: skip
        (tmp / "platform.yaml").write_text(f"secretsDir: {tmp / 'secrets'}\n")
        with Postgres() as pg:
            url = pg.create_database("bench")
            took = seed(url, args.customers, args.alerts)
            n = args.customers * (args.alerts + 1)
            print(f"seeded {n} objects ({args.customers} customers) in {took:.1f}s")
            serve_args = [
                "--db", url,
                "--out", str(tmp / "out"),
                "--platform-config", str(tmp / "platform.yaml"),
                "--tokens", str(tmp / "tokens.csv"),
            ]  # fmt: skip
            start = time.perf_counter()
            with ApiServer(tmp / "serve", serve_args) as server:
                print(f"serve ready (first full sync done) in {time.perf_counter() - start:.1f}s")
                pages = [
                    ("overview, admin", "/console/", admin),
                    ("customer alerts, admin", f"/console/customers/{focus}", admin),
                    ("receivers + routes, admin", f"/console/customers/{focus}/receivers", admin),
                    ("sync status, admin", f"/console/customers/{focus}/status", admin),
                    ("audit timeline, admin", f"/console/customers/{focus}/audit", admin),
                    ("overview, customer token", "/console/", scoped),
                    ("customer alerts, customer token", f"/console/customers/{focus}", scoped),
                ]
                for label, path, token in pages:
                    measure(server.port, label, path, token, args.repeat)


if __name__ == "__main__":
    main()

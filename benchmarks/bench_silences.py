"""Silence creation through the REST API to Alertmanager: p50/p99 (issue 15 "Speed").

    PYTHONPATH=$PWD/operator:$PWD python3 benchmarks/bench_silences.py [--n 300] [--quick]

A real Alertmanager 0.25 (one, then a 3-replica gossip cluster) and `alertplane serve` as a
process (SQLite, a tokens file), spoken to over HTTP like any client. Measured per request
(wall clock, milliseconds):

- `POST /customers/{id}/silences` one after the other (10 customers, round robin) — what
  a person or the console waits for: validation, the per-customer count (a list from every
  replica), the write to one replica, the audit row;
- the same from 16 concurrent writers (throughput too);
- `POST /api/v2/silences` straight to Alertmanager, for what alertplane adds on top;
- HA only: a silence created through the API → seen on the last replica (gossip).

Numbers go into benchmarks/README.md by hand, with the machine, date and load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.am_cluster import AmCluster
from tests.support.api_env import ADMIN_TOKEN, receiver_spec
from tests.support.silences import am_config, served, silence_body

from alertplane.stack.processes import Alertmanager

CUSTOMERS = [f"bench{i}" for i in range(10)]


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def quantiles(ms: list[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {ordered[-1]:7.1f} ms  (n={len(ordered)})"
    )


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def through_api(api: str, n: int, writers: int) -> tuple[list[float], float]:
    """n creations through the API by `writers` concurrent clients: latencies, seconds."""

    def one(i: int) -> float:
        cid = CUSTOMERS[i % len(CUSTOMERS)]
        body = silence_body(f"Bench{i}", duration="1h")
        try:
            return timed(lambda: call(f"{api}/customers/{cid}/silences", "POST", body, ADMIN_TOKEN))
        except urllib.error.HTTPError as exc:  # counted and shown, never a latency
            print(f"  refused: HTTP {exc.code} {exc.read()[:300]!r}", flush=True)
            return float("nan")

    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        latencies = list(pool.map(one, range(n)))
    failed = sum(1 for x in latencies if x != x)
    if failed:
        print(f"  {failed} of {n} creations failed", flush=True)
    return [x for x in latencies if x == x], time.perf_counter() - start


def direct(am_url: str, n: int) -> list[float]:
    now = time.time()
    body = {
        "matchers": [{"name": "alertname", "value": "Direct", "isRegex": False}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "createdBy": "bench",
        "comment": "direct",
    }
    return [timed(lambda: call(f"{am_url}/api/v2/silences", "POST", body)) for _ in range(n)]


def expire_all(api: str) -> None:
    """Back to no live silences, so every round starts with the same per-customer count."""
    for cid in CUSTOMERS:
        for s in call(f"{api}/customers/{cid}/silences?state=active", token=ADMIN_TOKEN)["items"]:
            call(f"{api}/customers/{cid}/silences/{s['id']}", "DELETE", token=ADMIN_TOKEN)


def seed(api: str) -> None:
    for cid in CUSTOMERS:
        call(f"{api}/customers/{cid}/receivers", "POST", receiver_spec(), ADMIN_TOKEN)


def measure(api: str, am_urls: list[str], n: int, label: str) -> None:
    seed(api)
    call(f"{api}/customers/{CUSTOMERS[0]}/silences", "POST", silence_body("Warm"), ADMIN_TOKEN)
    serial, _ = through_api(api, n, 1)
    print(f"{label}: API, one writer       {quantiles(serial)}", flush=True)
    expire_all(api)
    concurrent, seconds = through_api(api, n, 16)
    print(
        f"{label}: API, 16 writers       {quantiles(concurrent)}  {n / seconds:6.1f}/s",
        flush=True,
    )
    expire_all(api)
    print(f"{label}: Alertmanager direct  {quantiles(direct(am_urls[0], n))}", flush=True)


def gossip(api: str, last: str, rounds: int) -> None:
    """A silence created through the API (written to the first replica) → on the last."""
    seen: list[float] = []
    for i in range(rounds):
        start = time.perf_counter()
        body = silence_body(f"Gossip{i}")
        sid = call(f"{api}/customers/{CUSTOMERS[1]}/silences", "POST", body, ADMIN_TOKEN)["id"]
        while not any(s["id"] == sid for s in call(f"{last}/api/v2/silences")):
            time.sleep(0.005)
        seen.append((time.perf_counter() - start) * 1000)
    print(f"HA: created → on the last replica {quantiles(seen)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="creations per measurement")
    parser.add_argument("--quick", action="store_true", help="n=20, for the test suite")
    args = parser.parse_args()
    n = 20 if args.quick else args.n
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with (
            Alertmanager(am_config(root), root / "am") as am,
            served(root / "one", am.url) as api,
        ):
            measure(api.url, [am.url], n, "one Alertmanager")
        with (
            AmCluster(am_config(root), root / "cluster") as cluster,
            served(root / "ha", None, cluster.platform()) as api,
        ):
            urls = [am.url for am in cluster.replicas]
            measure(api.url, urls, n, "3 replicas")
            gossip(api.url, urls[-1], max(5, n // 10))
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()

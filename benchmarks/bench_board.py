"""The live alert board with 500 customers and 2,000 firing alerts: render time and
update latency.

    python3 benchmarks/bench_board.py [--customers 500] [--alerts 4] [--repeat 20]

Real parts: PostgreSQL holding `--customers` × `--alerts` CustomerAlerts and one receiver
per customer (seeded through `Store.apply`), a real `alertplane serve` rendering them and
reloading a real Alertmanager 0.25, and a real Prometheus 2.42 evaluating one rule per
stored alert (same alertname and severity, `vector(1)`: every one fires, so the board has
each alert's condition, value and receivers), plus one pending rule per 5 customers.
Prometheus sends the firing alerts to Alertmanager; 1 in 10 customers get a silence on
their second alert (Alertmanager checks every alert against every silence).

Measured, by one client with a signed-in cookie, `--repeat` times each (time to the last
byte, p50 / p90 / max, and the page size): the admin's board of every customer (page and
the fragment board.js polls), filtered to one customer, and a customer token's board with
its timeline. Update latency: an alert posted to Alertmanager, then the admin's fragment
fetched back to back until it shows it (post → seen); a browser polls every 5 s, so what
a person sees is this plus up to 5 s. Results go into benchmarks/README.md by hand.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_api import ApiServer, pct
from bench_console import seed
from tests.support.processes import Postgres  # bench_api put the repository on sys.path
from workload import SEVERITIES

from alertplane.console.session import COOKIE
from alertplane.render.yamlout import dump
from alertplane.service.tokens import new_token, token_line
from alertplane.stack.processes import Alertmanager, Prometheus


class PromptPrometheus(Prometheus):
    """Resends firing alerts every second (alerts firing before Alertmanager is discovered
    would otherwise arrive a minute later)."""

    def command(self) -> list[str]:
        return [*super().command(), "--rules.alert.resend-delay=1s"]


def bench_rules(customers: int, alerts: int) -> str:
    rules = []
    for c in range(customers):
        cid = f"c{c:03d}"
        for a in range(alerts):
            labels = {"customer_id": cid, "severity": SEVERITIES[a % 3]}
            rules.append({"alert": f"Alert{a}", "expr": f"vector({a + 1})", "labels": labels})
        if c % 5 == 0:
            labels = {"customer_id": cid, "severity": "warning"}
            rules.append({"alert": "Slow", "expr": "vector(1)", "for": "1h", "labels": labels})
    return dump({"groups": [{"name": "bench", "rules": rules}]})


def am_json(url: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{url}{path}", data=data, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def silence_some(am_url: str, customers: int) -> int:
    ends = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = 0
    for c in range(0, customers, 10):
        matchers = [
            {"name": "customer_id", "value": f"c{c:03d}", "isRegex": False, "isEqual": True},
            {"name": "alertname", "value": "Alert1", "isRegex": False, "isEqual": True},
        ]
        body = {"matchers": matchers, "startsAt": datetime.now(UTC).isoformat(), "endsAt": ends}
        am_json(am_url, "/api/v2/silences", {**body, "createdBy": "bench", "comment": "bench"})
        made += 1
    return made


def fetch(port: int, path: str, token: str) -> tuple[float, int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    headers = {"cookie": f"{COOKIE}={token}", "x-console-fragment": "1"}
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return time.perf_counter() - start, resp.status, body


def measure(port: int, label: str, path: str, token: str, repeat: int) -> None:
    fetch(port, path, token)  # first request: template compilation, caches
    times, sizes = [], set()
    for _ in range(repeat):
        took, status, body = fetch(port, path, token)
        if status != 200:
            sys.exit(f"{path}: HTTP {status}: {body[:300]!r}")
        times.append(took * 1000)
        sizes.add(len(body))
    print(
        f"{label:<40} p50 {pct(times, 50):7.1f} ms  p90 {pct(times, 90):7.1f} ms  "
        f"max {max(times):7.1f} ms  {max(sizes) / 1024:7.1f} KiB",
        flush=True,
    )


def update_latency(port: int, am_url: str, token: str, focus: str, n: int) -> None:
    seen: list[float] = []
    builds = 0
    for i in range(n):
        name = f"BoardProbe{i}"
        ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        alert = {"labels": {"alertname": name, "customer_id": focus}, "endsAt": ends}
        start = time.perf_counter()
        am_json(am_url, "/api/v2/alerts", [alert])
        while True:
            _, status, body = fetch(port, "/console/fragments/board", token)
            builds += 1
            if status == 200 and f'data-alert="{name}"'.encode() in body:
                break
            if time.perf_counter() - start > 120:
                sys.exit(f"{name} not on the board after 120 s")
        seen.append((time.perf_counter() - start) * 1000)
    print(
        f"update latency (post to Alertmanager → on the admin's board of every customer): p50 "
        f"{pct(seen, 50):.1f} ms, max {max(seen):.1f} ms over {n} alerts ({builds} fetches); "
        "a browser adds its poll period (5 s) at most",
        flush=True,
    )


def wait_firing(am_url: str, prom_url: str, want: int, timeout: float = 900) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        got = am_json(am_url, "/api/v2/alerts?silenced=true&inhibited=true")
        n = len(got) if isinstance(got, list) else 0
        if n >= want:
            return time.perf_counter() - start
        time.sleep(2)
    sys.exit(f"Alertmanager holds {n} alerts, not {want}, after {timeout:.0f} s ({prom_url})")


def run(args: argparse.Namespace, tmp: Path) -> None:
    admin, scoped = new_token(), new_token()
    focus = f"c{min(42, args.customers - 1):03d}"
    (tmp / "tokens.csv").write_text(
        token_line("bench", "admin", admin) + "\n"
        + token_line(f"{focus}-team", f"customer:{focus}", scoped) + "\n"
    )  # fmt: skip
    (tmp / "platform.yaml").write_text(f"secretsDir: {tmp / 'secrets'}\n")
    out, rules = tmp / "out", tmp / "bench-rules"
    out.mkdir()
    rules.mkdir()
    (rules / "bench.yml").write_text(bench_rules(args.customers, args.alerts))
    am_file = out / "alertmanager.yml"
    am_file.write_text(
        "route:\n  receiver: platform-default\nreceivers:\n- name: platform-default\n"
    )
    with Postgres() as pg:
        url = pg.create_database("bench")
        took = seed(url, args.customers, args.alerts)
        print(f"seeded {args.customers * (args.alerts + 1)} objects in {took:.1f}s", flush=True)
        with (
            Alertmanager(am_file, workdir=tmp / "am") as am,
            PromptPrometheus(rules, am.url, interval="5s", workdir=tmp / "prom") as prom,
        ):
            serve_args = [
                "--db", url, "--out", str(out),
                "--platform-config", str(tmp / "platform.yaml"),
                "--tokens", str(tmp / "tokens.csv"),
                "--prometheus-url", prom.url, "--alertmanager-url", am.url,
            ]  # fmt: skip
            with ApiServer(tmp / "serve", serve_args) as server:
                firing = args.customers * args.alerts
                took = wait_firing(am.url, prom.url, firing)
                print(f"{firing} alerts in Alertmanager after {took:.0f}s", flush=True)
                print(f"{silence_some(am.url, args.customers)} silences made", flush=True)
                port, c = server.port, focus
                frag, mine = "/console/fragments/board", f"/console/customers/{c}"
                pages = [
                    ("admin board page (every customer)", "/console/board", admin),
                    ("admin board fragment (the poll)", frag, admin),
                    ("admin fragment, state=pending", f"{frag}?state=pending", admin),
                    ("admin fragment, one customer", f"{frag}?customer={c}", admin),
                    ("customer board page + timeline", f"{mine}/board", scoped),
                    ("customer board fragment", f"{mine}/fragments/board", scoped),
                    ("customer timeline (6 h)", f"{mine}/fragments/timeline?hours=6", scoped),
                ]
                for label, path, token in pages:
                    measure(port, label, path, token, args.repeat)
                # c000: its rows come first on the board (the first 300 rows are shown)
                update_latency(port, am.url, admin, "c000", args.updates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=4, help="firing alerts per customer")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--updates", type=int, default=10)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, load {load:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="alertplane-bench-board-") as tmp_name:
        run(args, Path(tmp_name))


if __name__ == "__main__":
    main()

"""Change → live → evaluated on the real Grafana Mimir, through the Mimir sink.

    python3 benchmarks/bench_mimir.py [--tenants 100] [--alerts 100] [--changes 10]
                                      [--evaluation-interval 1m] [--default-queues] [--quick]

Starts one monolithic Mimir with the settings docs/mimir.md asks for (tests/support/
mimir_env.py: sync on change, 1 s sync queues), pushes `tenants` × `alerts` alerting rules
through `MimirSink` (each tenant's alerts split into groups of 20), then changes one alert of
a random tenant `changes` times and measures, per change:
- push: `MimirSink.write` of that customer (alertplane's share: render split, diff, POST);
- live: the push → the ruler's `GET /prometheus/api/v1/rules` answers the new rule (what
  Synced waits for);
- evaluated: the push → that group's `lastEvaluation` is after the push (the ruler ran it).
`--quick` is a small smoke run (2 tenants × 25 alerts, 2 changes).
Results go into benchmarks/README.md by hand, with the machine, date and load.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from workload import alert_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.mimir_env import Mimir

from alertplane.model import CustomerAlert
from alertplane.render.rules import render_rules, rules_path
from alertplane.sinks.factory import SinkSettings, build_sink
from alertplane.sinks.mimir import MimirSink
from alertplane.validate import parse_document


def rules_text(cid: str, alerts: int, changed: int = -1, threshold: int = 1) -> str:
    specs = []
    for a in range(alerts):
        obj, problems = parse_document(alert_manifest(cid, a, threshold if a == changed else 1))
        assert isinstance(obj, CustomerAlert), problems
        specs.append(obj.spec)
    text = render_rules(cid, specs)
    assert text is not None
    return text


def _group_of(mimir: Mimir, cid: str, name: str) -> dict[str, object] | None:
    for group in mimir.rules(cid):
        for rule in group["rules"]:
            if rule["name"] == name:
                return dict(group, rule=rule)
    return None


def _seconds_since(stamp: str, t0: float) -> float:
    # Go prints nanoseconds; Python's fromisoformat takes at most microseconds.
    found = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?Z$", stamp)
    if found is None:
        return float("-inf")
    head, frac = found.groups()
    when = datetime.fromisoformat(f"{head}.{(frac or '0').ljust(6, '0')}+00:00").timestamp()
    return when - t0


def measure(mimir: Mimir, sink: MimirSink, tenants: list[str], args: argparse.Namespace) -> None:
    pushes, lives, evals = [], [], []
    rng = random.Random(7)
    for i in range(args.changes):
        cid, a = rng.choice(tenants), rng.randrange(args.alerts)
        threshold = 100 + i
        text = rules_text(cid, args.alerts, a, threshold)
        t0 = time.time()
        sink.write({rules_path(cid): text}, {})
        pushed = time.time()
        want = f"> {threshold}"
        live = evaluated = None
        while time.time() - t0 < 600 and evaluated is None:
            group = _group_of(mimir, cid, f"Alert{a}")
            query = str(group["rule"]["query"]) if group else ""  # type: ignore[index]
            if live is None and query.endswith(want):
                live = time.time() - t0
            if live is not None and group and _seconds_since(str(group["lastEvaluation"]), t0) > 0:
                evaluated = time.time() - t0
            time.sleep(0.05)
        pushes.append(pushed - t0)
        lives.append(live or float("nan"))
        evals.append(evaluated or float("nan"))
        print(f"change {i + 1}: push {pushes[-1]:.3f}s live {lives[-1]:.2f}s "
              f"evaluated {evals[-1]:.2f}s", flush=True)  # fmt: skip
    for what, xs in (("push", pushes), ("live", lives), ("evaluated", evals)):
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
        print(f"{what}: p50 {statistics.median(xs):.3f}s p95 {p95:.3f}s max {xs[-1]:.3f}s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--alerts", type=int, default=100)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--evaluation-interval", default="1m")
    ap.add_argument(
        "--default-queues",
        action="store_true",
        help="Mimir's default 10 s ruler sync queues instead of docs/mimir.md's 1 s",
    )
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.tenants, args.alerts, args.changes = 2, 25, 2
    tenants = [f"tenant-{t:04d}" for t in range(args.tenants)]
    queues = ("outbound", "inbound")
    extra = [f"-ruler.{q}-sync-queue-poll-interval=10s" for q in queues if args.default_queues]
    with (
        tempfile.TemporaryDirectory(prefix="bench-mimir-") as tmp,
        Mimir(Path(tmp), evaluation_interval=args.evaluation_interval, extra=extra) as mimir,
    ):
        sink = build_sink(SinkSettings(kind="mimir", mimir_url=mimir.url))
        assert isinstance(sink, MimirSink)
        start = time.time()
        for cid in tenants:
            sink.write({rules_path(cid): rules_text(cid, args.alerts)}, {})
        took = time.time() - start
        print(f"{args.tenants * args.alerts} rules in {args.tenants} tenants pushed in "
              f"{took:.1f}s; load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        last = tenants[-1]
        while not mimir.rules(last):
            time.sleep(0.5)
        print(f"all loaded after {time.time() - start:.1f}s", flush=True)
        measure(mimir, sink, tenants, args)
        print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

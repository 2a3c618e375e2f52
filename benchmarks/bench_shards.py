"""Issue 12's "Speed": change → live with one Prometheus against 4 and 8 shards, in one run.

    python3 benchmarks/bench_shards.py                 # 10,000 / 50,000 / 100,000 rules
    python3 benchmarks/bench_shards.py --sizes 10000 --shards 1,4,8 --changes 20 --json r.json
    python3 benchmarks/bench_shards.py --quick         # small numbers; tests/integration run it

Per size: a SQLite store seeded with benchmarks/realworld.py's shapes (25 rules per
customer: 10,000 rules = 400 customers), ONE reconciler (the product's, in this process)
and, one layout after another, the real Prometheus servers of that layout (one over one
directory; or one per shard over its shard's directory, customers placed by
render/placement.py). shard_sinks.py says how one initial sync serves every layout.
Per change (an alert's label edited in the store, the reconciler woken as `apply` does):
- live: until the customer's shard finished the reload that loaded it, confirmed on its
  `/api/v1/rules` (shard_probe.py); `seen`: when that answer arrived;
- servers reloaded (from each server's last-reload timestamp) and alertplane's reload calls;
- CPU: the reconciler thread plus the promtool/amtool it ran, and every Prometheus of the
  layout (the reload, the liveness questions, and the benchmark's one confirming query),
  net of their idle rate measured before the changes (raw figures kept in the JSON); the
  servers evaluate hourly (--eval-interval), so evaluation does not count as a change's.
Per layout: the servers' start-up (loading every rule) time and memory, and that each
server holds exactly its customers. At the largest size: `alertplane serve`'s memory
after its first full sync of the same store (--serve-at). Prints a table; --json saves it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import realworld
from shard_probe import (
    ThreadCpu,
    children_cpu,
    holders,
    reload_ts,
    serve_memory,
    servers_cpu,
    servers_memory,
    wait_live,
)
from shard_sinks import Layouts, OwnShards, product_shards, single

from alertplane.model import CustomerAlert
from alertplane.render.placement import place
from alertplane.render.platform import PrometheusSettings, Shard
from alertplane.sinks.base import Sink
from alertplane.stack.processes import Prometheus, free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncHooks, SyncReport, SyncSettings
from alertplane.validate import parse_document

PER_CUSTOMER = len(realworld.EXPRESSIONS)  # 25 rules per customer


@dataclass
class Plan:
    sizes: list[int]
    shards: list[int]
    changes: int
    budget_s: float  # per layout: no new change after this, once min_changes are measured
    serve_at: int | None
    min_changes: int = 3
    save: Path | None = None  # the JSON, rewritten after every layout (a long run may be cut)
    # Rules are evaluated this often: rarely by default, so the CPU measured is the
    # change's (evaluation costs every layout the same, and has no data to work on here).
    eval_interval: str = "1h"
    idle_s: float = 20.0
    timeout_s: float = 1800.0  # one layout's start-up, the first sync, serve's
    live_timeout_s: float = 1800.0  # one change: beyond it, recorded as inf (not live yet)


@dataclass
class Row:
    rules: int
    customers: int
    shards: int
    sharding: str  # product / own (render/placement.py, until s12-shards' sink lands)
    start_s: float = 0.0
    rss_mb: float = 0.0
    peak_mb: float = 0.0
    live: list[float] = field(default_factory=list)
    seen: list[float] = field(default_factory=list)
    servers_reloaded: list[int] = field(default_factory=list)
    reload_calls: list[int] = field(default_factory=list)
    alertplane_cpu: list[float] = field(default_factory=list)
    prometheus_cpu: list[float] = field(default_factory=list)
    # CPU seconds per second while nothing changes (the reconciler polling its change feed,
    # the servers idling), measured before the changes and taken off each change's CPU:
    # on a loaded machine a change's window is long, and the idling would count as its cost.
    idle_ap: float = 0.0
    idle_prom: float = 0.0
    # Before that subtraction (the reconciler does not poll while it waits on a reload: the
    # net figure is a lower bound, the raw one an upper bound), and each change's window.
    alertplane_cpu_raw: list[float] = field(default_factory=list)
    window: list[float] = field(default_factory=list)
    misplaced: int = 0  # customers loaded on a server that is not their shard, or nowhere


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def customer_of_group(group: str) -> str:
    return group.rsplit("-", 1)[0]  # render/rules.py group_name: <customer>-<category>


def parse(doc: dict[str, Any]) -> CustomerAlert:
    obj, problems = parse_document(doc)
    assert isinstance(obj, CustomerAlert), problems
    return obj


class SizeRun:
    """One size: a store, one reconciler, the layouts one after another."""

    def __init__(self, plan: Plan, rules: int, workdir: Path) -> None:
        self.plan, self.workdir = plan, workdir
        self.docs = realworld.alerts(max(1, rules // PER_CUSTOMER))
        self.ids = sorted({d["spec"]["customerId"] for d in self.docs})
        self.db = workdir / "a.db"
        self.store = Store(open_db(f"sqlite:///{self.db}"))
        self.layouts = Layouts([str(n) for n in plan.shards])
        self.reports: list[tuple[float, SyncReport]] = []
        self.cpu = ThreadCpu()
        self.done = 0  # changes made so far (each edits a fresh label value)

    def seed(self) -> float:
        t0 = time.monotonic()
        for i in range(0, len(self.docs), 5000):
            self.store.apply([parse(d) for d in self.docs[i : i + 5000]], "bench", "cli")
        return time.monotonic() - t0

    def run(self, info: dict[str, Any], done: Callable[[Row], None]) -> None:
        """Seed, sync once, then measure every layout, handing each row to `done`."""
        info["seed_s"] = self.seed()
        hooks = SyncHooks(on_synced=[lambda r: self.reports.append((time.time(), r))])
        settings = SyncSettings(out_dir=self.workdir / "unused", sink=self.layouts)
        rec = Reconciler(self.store, settings, hooks)
        stop = threading.Event()
        t0 = time.monotonic()
        worker = threading.Thread(target=self.cpu.wrap(rec.run), args=(stop,), daemon=True)
        worker.start()
        if not rec.ready.wait(self.plan.timeout_s):
            raise TimeoutError("the reconciler's first full sync did not end")
        info["initial_sync_s"] = time.monotonic() - t0
        try:
            for n in self.plan.shards:
                done(self.layout(rec, n))
        finally:
            stop.set()
            worker.join(60)

    def build(self, n: int) -> tuple[Sink, dict[str, Path], dict[str, int], str]:
        """Layout `n`'s sink, shard → rules directory, shard → port, and who shards."""
        root = self.workdir / f"layout-{n}"
        if n == 1:
            port = free_port()
            return single(root, f"http://127.0.0.1:{port}"), {"": root / "rules"}, {"": port}, "-"
        ports = {f"shard-{i}": free_port() for i in range(n)}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        product = product_shards(root, urls)
        if product is not None:
            return product[0], product[1], ports, "product"
        own = OwnShards(root, urls)
        return own, own.rules_dirs(root), ports, "own"

    def layout(self, rec: Reconciler, n: int) -> Row:
        sink, dirs, ports, how = self.build(n)
        with rec._lock:  # between passes: a pass of the previous layout may still run
            self.layouts.activate(str(n), sink)
        every = self.plan.eval_interval
        servers = {
            name: Prometheus(d, None, interval=every, workdir=d.parent / "prom", port=ports[name])
            for name, d in dirs.items()
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        row = Row(len(self.docs), len(self.ids), n, how)
        t0 = time.monotonic()
        try:
            with ThreadPoolExecutor(len(servers)) as pool:
                list(pool.map(lambda p: p.start(self.plan.timeout_s), servers.values()))
            row.start_s = time.monotonic() - t0
            print(f"#  {row.rules} rules: {n} server(s) up in {row.start_s:.0f}s", file=sys.stderr)
            row.rss_mb, row.peak_mb = servers_memory(servers.values())
            row.idle_ap, row.idle_prom = self.idle(servers)
            self.changes(rec, servers, row)
            row.misplaced = self.misplaced(servers, n)
        finally:
            for p in servers.values():
                p.close()
        return row

    def idle(self, servers: dict[str, Prometheus]) -> tuple[float, float]:
        """CPU seconds per second of the reconciler and of the servers, nothing changing."""
        t0, ap0, prom0 = time.time(), self.cpu.seconds(), servers_cpu(servers.values())
        time.sleep(self.plan.idle_s)
        spent = time.time() - t0
        return (self.cpu.seconds() - ap0) / spent, (servers_cpu(servers.values()) - prom0) / spent

    def shard_of(self, customer: str, n: int) -> str:
        if n == 1:
            return ""
        settings = PrometheusSettings(shards=[Shard(name=f"shard-{i}") for i in range(n)])
        return place(customer, settings) or ""

    def misplaced(self, servers: dict[str, Prometheus], n: int) -> int:
        """Customers not loaded on exactly their own shard's server (0 is right)."""
        held = holders(servers, customer_of_group)
        return sum(
            1 for c in self.ids if {s for s, cs in held.items() if c in cs} != {self.shard_of(c, n)}
        )

    def changes(self, rec: Reconciler, servers: dict[str, Prometheus], row: Row) -> None:
        start = time.monotonic()
        for i in range(self.plan.changes):
            if i >= self.plan.min_changes and time.monotonic() - start > self.plan.budget_s:
                break
            try:
                self.change(rec, servers, row, i)
            except TimeoutError as exc:  # its servers stop now; the reload is cut short
                print(f"#  {exc}", file=sys.stderr, flush=True)
                row.live.append(float("inf"))
                row.seen.append(float("inf"))
                break

    def change(self, rec: Reconciler, servers: dict[str, Prometheus], row: Row, i: int) -> None:
        index = (self.done * 7919 + i) % len(self.docs)  # a prime stride: spread customers
        self.done += 1
        doc = json.loads(json.dumps(self.docs[index]))
        customer, name = doc["spec"]["customerId"], doc["spec"]["alertName"]
        mark = f"r{self.done}"
        doc["spec"]["labels"]["rev"] = mark
        group = f"{customer}-{doc['spec']['category']}"
        prom = servers[self.shard_of(customer, row.shards)]
        before = {s: reload_ts(p.url) for s, p in servers.items()}
        cpu0 = (self.cpu.seconds() + children_cpu(), servers_cpu(servers.values()), time.time())
        calls0 = reload_calls()
        t0 = time.time()
        self.store.apply([parse(doc)], "bench", "cli")
        rec.notify()

        def loaded(rules: dict[str, dict[str, dict[str, Any]]]) -> bool:
            return rules.get(group, {}).get(name, {}).get("labels", {}).get("rev") == mark

        live = wait_live(prom, t0, loaded, self.plan.live_timeout_s)
        self.wait_synced(customer, t0)
        time.sleep(0.3)  # the pass ends with statuses; let it
        row.live.append(live.live - t0)
        row.seen.append(live.seen - t0)
        row.servers_reloaded.append(
            sum(1 for s, p in servers.items() if reload_ts(p.url) != before[s])
        )
        row.reload_calls.append(reload_calls() - calls0)
        window = time.time() - cpu0[2]
        ap = self.cpu.seconds() + children_cpu() - cpu0[0]
        row.alertplane_cpu_raw.append(ap)
        row.window.append(window)
        row.alertplane_cpu.append(max(0.0, ap - row.idle_ap * window))
        prom = servers_cpu(servers.values()) - cpu0[1] - row.idle_prom * window
        row.prometheus_cpu.append(max(0.0, prom))
        print(
            f"#  {row.rules} rules, {row.shards} shard(s), change {i}: live {row.live[-1]:.2f}s,"
            f" reloaded {row.servers_reloaded[-1]} server(s); load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
            flush=True,
        )

    def wait_synced(self, customer: str, since: float) -> None:
        deadline = time.monotonic() + self.plan.timeout_s
        while time.monotonic() < deadline:
            if any(t >= since and customer in r.customers for t, r in self.reports):
                return
            time.sleep(0.02)
        raise TimeoutError(f"no sync of {customer} reported")


def reload_calls() -> int:
    """alertplane's reload calls so far (its `alertplane_reloads_total`, every target)."""
    from alertplane.metrics import RELOADS

    samples = [s for m in RELOADS.collect() for s in m.samples]
    return int(sum(s.value for s in samples if s.name.endswith("_total")))


HEADER = (
    "rules customers shards sharding start_s prom_rss_mb prom_peak_mb changes live_p50_s "
    "live_p95_s seen_p50_s servers_reloaded reload_calls ap_cpu_ms prom_cpu_s misplaced"
)


def line(row: Row) -> str:
    return (
        f"{row.rules} {row.customers} {row.shards} {row.sharding} {row.start_s:.1f} "
        f"{row.rss_mb:.0f} {row.peak_mb:.0f} {len(row.live)} {pct(row.live, 0.5):.3f} "
        f"{pct(row.live, 0.95):.3f} {pct(row.seen, 0.5):.3f} "
        f"{min(row.servers_reloaded, default=0)}-{max(row.servers_reloaded, default=0)} "
        f"{statistics.mean(row.reload_calls or [0]):.1f} "
        f"{1000 * statistics.median(row.alertplane_cpu or [0]):.0f} "
        f"{statistics.median(row.prometheus_cpu or [0]):.2f} {row.misplaced}"
    )


def machine() -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{when} on {os.uname().nodename}: {os.cpu_count()} CPUs, {mem:.0f} GiB; load {load}"


def run(plan: Plan, tmp: Path | None) -> dict[str, Any]:
    result: dict[str, Any] = {"started": machine(), "sizes": []}
    print(f"# bench_shards {result['started']}", flush=True)
    print(HEADER, flush=True)
    for rules in plan.sizes:
        with tempfile.TemporaryDirectory(dir=tmp, prefix=f"shards-{rules}-") as d:
            size = SizeRun(plan, rules, Path(d))
            entry: dict[str, Any] = {"rules": len(size.docs), "rows": []}
            result["sizes"].append(entry)

            def done(row: Row, entry: dict[str, Any] = entry) -> None:
                print(line(row), flush=True)
                entry["rows"].append(row.__dict__)
                save(plan, result)

            size.run(entry, done)
            if plan.serve_at is not None and rules == plan.serve_at:
                del size  # the store's connections, the documents: not serve's memory
                entry["serve"] = serve_memory(Path(d) / "a.db", Path(d), plan.timeout_s)
                print(f"# serve at {rules} rules: {entry['serve']}", flush=True)
            print(f"# seeded in {entry['seed_s']:.0f}s, first sync {entry['initial_sync_s']:.0f}s")
            save(plan, result)
    result["ended"] = machine()
    print(f"# end {result['ended']}", flush=True)
    save(plan, result)
    return result


def save(plan: Plan, result: dict[str, Any]) -> None:
    if plan.save is not None:
        plan.save.write_text(json.dumps(result, indent=1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,100000", help="rules per size")
    ap.add_argument("--shards", default="1,4,8", help="layouts: shard counts (1: unsharded)")
    ap.add_argument("--changes", type=int, default=20, help="changes per layout")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds of changes per layout")
    ap.add_argument("--min-changes", type=int, default=3, help="changes, whatever --budget")
    ap.add_argument("--live-timeout", type=float, default=1800.0, help="seconds for one change")
    ap.add_argument("--eval-interval", default="1h", help="the servers' evaluation interval")
    ap.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU sampling")
    ap.add_argument("--serve-at", type=int, default=None, help="size for serve's RSS (largest)")
    ap.add_argument("--no-serve", action="store_true", help="do not measure serve's RSS")
    ap.add_argument("--quick", action="store_true", help="small numbers: 200 rules, 1 and 2 shards")
    ap.add_argument("--tmp", type=Path, default=None, help="where the stores and layouts go")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.shards, args.changes, args.idle = "200", "1,2", 3, 2.0
    sizes = [int(s) for s in args.sizes.split(",")]
    plan = Plan(
        sizes=sizes,
        shards=[int(s) for s in args.shards.split(",")],
        changes=args.changes,
        budget_s=args.budget,
        serve_at=None if args.no_serve else (args.serve_at or max(sizes)),
        min_changes=args.min_changes,
        live_timeout_s=args.live_timeout,
        eval_interval=args.eval_interval,
        idle_s=args.idle,
        save=args.json,
    )
    run(plan, args.tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

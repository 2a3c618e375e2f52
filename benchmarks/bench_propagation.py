"""Propagation, burst and memory of the standalone runtime against a real Prometheus.

    python3 benchmarks/bench_propagation.py [--sizes 10,100,500] [--alerts 20] [--changes 10]

For each size (customers × alerts) it measures:
- Prometheus' own reload time (POST /-/reload with nothing changed);
- propagation: apply of one changed alert → the new expression in /api/v1/rules;
- the seed's design as a baseline on a second Prometheus: regenerate one alerts.yml for
  all customers + promtool check rules on it + reload → the new expression live;
- burst: 100 changes across customers within one second → reloads and time to all live;
- memory: RSS of an `alertplane serve` process holding all alerts.
Results go into benchmarks/README.md by hand, with the machine and date.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from workload import alert_manifest

from alertplane.model import CustomerAlert
from alertplane.render.rules import rule_groups
from alertplane.render.yamlout import dump
from alertplane.sinks.reload import reload
from alertplane.stack.processes import Alertmanager, Prometheus, free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from alertplane.validate import parse_document


def alert(cid: str, a: int, threshold: int = 1) -> CustomerAlert:
    obj, problems = parse_document(alert_manifest(cid, a, threshold))
    assert isinstance(obj, CustomerAlert), problems
    return obj


def live_expr(prom: Prometheus, group: str, name: str) -> str | None:
    for rule in prom.rules():
        if rule["group"] == group and rule["name"] == name:
            return str(rule["query"])
    return None


def same_threshold(live: str | None, expr: str) -> bool:
    return live is not None and live.rsplit(">", 1)[1].strip() == expr.rsplit(">", 1)[1].strip()


def wait_live(prom: Prometheus, group: str, name: str, expr: str, timeout: float = 120) -> float:
    # Prometheus reports the query re-printed from its AST (matchers may be reordered), so
    # compare on the threshold, which is what each change alters.
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if same_threshold(live_expr(prom, group, name), expr):
            return time.monotonic()
        time.sleep(0.05)  # at 10,000 rules each poll is a large JSON: do not load Prometheus
    raise TimeoutError(f"{group}/{name} not live after {timeout}s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_size(customers: int, alerts: int, changes: int, workdir: Path) -> dict[str, float]:
    ids = [f"c{c:04d}" for c in range(customers)]
    store = Store(open_db(f"sqlite:///{workdir / 'a.db'}"))
    store.apply([alert(cid, a) for cid in ids for a in range(alerts)], "bench", "cli")
    out = workdir / "out"
    settings = SyncSettings(out_dir=out)
    Reconciler(store, settings).sync_all()
    base_dir = workdir / "baseline"
    (base_dir / "rules").mkdir(parents=True)
    every = {cid: [alert(cid, a).spec for a in range(alerts)] for cid in ids}

    def baseline_write() -> None:
        groups = [g for cid in ids for g in rule_groups(cid, every[cid])]
        path = base_dir / "rules" / "alerts.yml"
        path.write_text(dump({"groups": groups}), encoding="utf-8")
        subprocess.run(["promtool", "check", "rules", str(path)], check=True, capture_output=True)

    baseline_write()
    res: dict[str, float] = {}
    with (
        Alertmanager(out / "alertmanager.yml") as am,
        Prometheus(out / "rules", am.url, interval="15s") as prom,
        Prometheus(base_dir / "rules", None, interval="15s") as base,
    ):
        settings.prometheus_url, settings.alertmanager_url = prom.url, am.url
        rec = Reconciler(store, settings)
        stop = threading.Event()
        worker = threading.Thread(target=rec.run, args=(stop,), daemon=True)
        worker.start()
        rec.ready.wait(600)
        reloads = []
        for _ in range(5):
            t0 = time.monotonic()
            assert reload(prom.url).ok
            reloads.append(time.monotonic() - t0)
        res["prometheus_reload_s"] = statistics.median(reloads)

        prop, seed = [], []
        for i in range(changes):
            cid, a = ids[(i * 7) % customers], i % alerts
            changed = alert(cid, a, threshold=100 + i)
            group = f"{cid}-{changed.spec.category.value}"
            t0 = time.monotonic()
            store.apply([changed], "bench", "cli")
            rec.notify()
            prop.append(wait_live(prom, group, changed.spec.alert_name, changed.spec.expr) - t0)
            t0 = time.monotonic()
            every[cid][a] = changed.spec
            baseline_write()
            assert reload(base.url).ok
            seed.append(wait_live(base, group, changed.spec.alert_name, changed.spec.expr) - t0)
        res |= {
            "propagation_p50_s": pct(prop, 0.5),
            "propagation_p95_s": pct(prop, 0.95),
            "baseline_p50_s": pct(seed, 0.5),
            "baseline_p95_s": pct(seed, 0.95),
        }

        runs_before = _sync_runs(store)
        burst = [
            alert(ids[(i * 13) % customers], (i * 3) % alerts, threshold=1000 + i)
            for i in range(100)
        ]
        t0 = time.monotonic()
        for i, obj in enumerate(burst):  # 100 changes spread over one second
            store.apply([obj], "bench", "cli")
            time.sleep(max(0.0, t0 + (i + 1) / 100 - time.monotonic()))
        wanted = {
            (f"{o.spec.customer_id}-{o.spec.category.value}", o.spec.alert_name): o.spec.expr
            for o in burst
        }
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            live = {(r["group"], r["name"]): r["query"] for r in prom.rules()}
            if all(same_threshold(live.get(k), v) for k, v in wanted.items()):
                break
            time.sleep(0.02)
        else:
            raise TimeoutError("burst not live after 300s")
        res["burst_all_live_s"] = time.monotonic() - t0
        res["burst_syncs"] = _sync_runs(store) - runs_before
        stop.set()
        worker.join(30)
    res["serve_rss_mb"] = serve_rss(workdir)
    return res


def _sync_runs(store: Store) -> int:
    from sqlalchemy import func, select

    from alertplane.store.tables import SyncRunRow

    with store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(SyncRunRow)) or 0)


def serve_rss(workdir: Path) -> float:
    """RSS of `alertplane serve` after its first full sync of the benchmark database."""
    port = free_port()
    env = {**os.environ, "ALERTPLANE_DB": f"sqlite:///{workdir / 'a.db'}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alertplane.cli",
            "serve",
            "--port",
            str(port),
            "--out",
            str(workdir / "serve-out"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(
            next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        )
        return rss_kb / 1024
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,500")
    ap.add_argument("--alerts", type=int, default=20)
    ap.add_argument("--changes", type=int, default=10)
    args = ap.parse_args()
    print(
        "customers rules prom_reload_s prop_p50_s prop_p95_s seed_p50_s seed_p95_s "
        "speedup burst_syncs burst_live_s serve_rss_mb"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_size(size, args.alerts, args.changes, Path(tmp))
        print(
            f"{size} {size * args.alerts} {r['prometheus_reload_s']:.3f} "
            f"{r['propagation_p50_s']:.3f} {r['propagation_p95_s']:.3f} "
            f"{r['baseline_p50_s']:.3f} {r['baseline_p95_s']:.3f} "
            f"{r['baseline_p50_s'] / r['propagation_p50_s']:.1f}x {r['burst_syncs']:.0f} "
            f"{r['burst_all_live_s']:.2f} {r['serve_rss_mb']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

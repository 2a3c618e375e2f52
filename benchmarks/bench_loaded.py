"""What asking "what is loaded?" costs a pass of the files/ConfigMap sink (sinks/loaded_query.py).

    python3 benchmarks/bench_loaded.py [--customers 1000] [--alerts 10] [--repeat 5]

Renders bench_core's workload (workload.core_manifests: per customer `alerts` alerts and two
receivers), starts the real Prometheus and Alertmanager on it and times one pass of the
files sink's liveness questions for every customer (a full resync asks all of them):
the first pass (nothing known), a resync with no reload since (nothing is asked), a resync
after a reload (asked; the loaded rules fingerprinted, not compared again) and a change
pass (one customer, after its reload: one GET /api/v1/rules of every rule, one
Alertmanager /metrics). Wall-clock seconds (median of `--repeat`), questions and
comparisons included, reloads not. Results go into benchmarks/README.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from workload import core_manifests

from alertplane.render import ALERTMANAGER_PATH
from alertplane.sinks.base import ALERTMANAGER, PROMETHEUS
from alertplane.sinks.factory import SinkSettings, build_sink
from alertplane.sinks.files import FileSink
from alertplane.sinks.reload import reload
from alertplane.stack.processes import Alertmanager, Prometheus


def _render(customers: int, alerts: int, out: Path) -> None:
    manifests = out.parent / "manifests.yaml"
    manifests.write_text(core_manifests(customers, alerts), encoding="utf-8")
    cmd = ["alertplane", "render", "-f", str(manifests), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)


def _pass(sink: FileSink, customers: list[str], reload: bool) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one pass's liveness questions for
    `customers` (the questions are asked on the first liveness question of a pass)."""
    sink.make_live([])
    if reload:  # as after a reload of both (the reload itself is not what is measured, and
        for target in (PROMETHEUS, ALERTMANAGER):  # takes Prometheus seconds at 10,000 rules)
            sink.loaded._epoch[target] += 1
    start, cpu = time.perf_counter(), time.process_time()
    for cid in customers:
        for output in (f"rules/{cid}.yml", ALERTMANAGER_PATH):
            live = sink.liveness(output, cid)
            assert live.reason == "Reloaded", live
    return time.perf_counter() - start, time.process_time() - cpu


def _timed_reload(url: str) -> float:
    """What the question is weighed against: the reload it follows, of the same rules."""
    start = time.perf_counter()
    outcome = reload(url, attempts=1, timeout_s=600)
    assert outcome.ok, outcome
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, help="render here once, reuse on later runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "out"
        if not (out / "alertmanager.yml").exists():
            _render(args.customers, args.alerts, out)
        customers = sorted(p.stem for p in (out / "rules").glob("*.yml"))
        rules_bytes = sum(p.stat().st_size for p in (out / "rules").glob("*.yml"))
        with (
            Alertmanager(out / "alertmanager.yml") as am,
            Prometheus(out / "rules", am.url, interval="15s") as prom,
        ):
            urls = {PROMETHEUS: prom.url, ALERTMANAGER: am.url}
            sink = build_sink(SinkSettings(out_dir=out), urls=lambda: urls)
            assert isinstance(sink, FileSink)
            rows = [
                ("first pass, every customer (nothing known yet)", _pass(sink, customers, True))
            ]
            cases = [
                ("resync, every customer, no reload since", customers, False),
                ("resync, every customer, after a reload", customers, True),
                ("change pass: one customer, after its reload", customers[:1], True),
            ]
            for label, asked, reload in cases:
                runs = [_pass(sink, asked, reload) for _ in range(args.repeat)]
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                rows.append((f"{label} (median of {args.repeat})", (wall, cpu)))
            reload_s = min(_timed_reload(prom.url) for _ in range(args.repeat))
            with urllib.request.urlopen(f"{prom.url}/api/v1/rules") as resp:
                api_bytes = len(resp.read())
            start = time.perf_counter()
            with urllib.request.urlopen(f"{prom.url}/api/v1/rules") as resp:
                json.loads(resp.read())
            rules_s = time.perf_counter() - start
            with urllib.request.urlopen(f"{am.url}/api/v2/status") as resp:
                status_bytes = len(resp.read())
        print(f"{len(customers)} customers × {args.alerts} alerts; rule files {rules_bytes} B")
        print(
            f"answers: /api/v1/rules {api_bytes} B ({rules_s:.3f} s with its JSON parse), "
            f"/api/v2/status {status_bytes} B"
        )
        print(f"Prometheus reload (POST /-/reload, best of {args.repeat}): {reload_s:.3f} s")
        for label, (wall, cpu) in rows:
            print(f"{label}: {wall:.3f} s wall, {cpu:.3f} s CPU here")
        print(f"questions asked: {sink.loaded.asked}")


if __name__ == "__main__":
    main()

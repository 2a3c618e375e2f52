"""What bench_shards.py reads off the running processes: when a Prometheus last finished a
reload, whether a changed rule is live on it, CPU seconds and memory from /proc.

Live is the moment Prometheus finished the reload that loaded the change, on its own clock
(`prometheus_config_last_reload_success_timestamp_seconds`, the same machine's wall clock),
confirmed by `/api/v1/rules`: the reload timestamp is read again after the rules arrive,
and live is the newest reload finished by then: the one that loaded them, or a later one
(an upper bound, under back-to-back reloads). Prometheus 2.42 has no filter on
/api/v1/rules, so at 100,000 rules one answer takes seconds to serialise and parse: `seen`
(when the answer arrived) is reported beside it, and the cheap /metrics is polled until a
reload after the change finished.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ab_procs import proc_status  # VmRSS, VmHWM, CPU seconds of a pid (or thread)

from alertplane.stack.processes import Prometheus, free_port, http_json

RELOADED = "prometheus_config_last_reload_success_timestamp_seconds"
POLL_S = 0.05


def reload_ts(url: str, timeout: float = 600.0) -> float:
    """When `url`'s Prometheus last finished a successful reload (Unix seconds)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode()
            if line.startswith(RELOADED + " "):
                return float(line.split()[1])
    raise RuntimeError(f"{url}/metrics has no {RELOADED}")


def rules_by_group(prom: Prometheus) -> dict[str, dict[str, dict[str, Any]]]:
    """group → rule name → rule, as `/api/v1/rules` answers now."""
    groups = http_json(f"{prom.url}/api/v1/rules", timeout=600)["data"]["groups"]
    return {g["name"]: {r["name"]: r for r in g["rules"]} for g in groups}


@dataclass
class Live:
    live: float  # Unix time the loading reload finished
    seen: float  # Unix time the confirming /api/v1/rules answer arrived
    polls: int


def wait_live(
    prom: Prometheus,
    since: float,
    loaded: Callable[[dict[str, dict[str, dict[str, Any]]]], bool],
    timeout: float,
) -> Live:
    """Wait until a reload finished after `since` loaded what `loaded` looks for.

    The answer of /api/v1/rules is what the newest reload finished by then loaded; when
    reloads finished while it was asked (back to back, under load), the reload that loaded
    it finished by the last of them: live is that one's time, an upper bound."""
    deadline, polls, last_checked = time.monotonic() + timeout, 0, 0.0
    while time.monotonic() < deadline:
        before = reload_ts(prom.url)
        if before > since and before != last_checked:
            polls += 1
            found = loaded(rules_by_group(prom))
            seen = time.time()
            after = reload_ts(prom.url)
            if found:
                return Live(after, seen, polls)
            last_checked = before  # the reloads up to `before` did not have it: wait on
            continue
        time.sleep(POLL_S)
    raise TimeoutError(f"{prom.url}: change not live {timeout:.0f}s after it was made")


def children_cpu() -> float:
    """CPU seconds of this process' finished children (promtool, amtool): the reconciler
    waits for each tool run, and no other child ends while a change is measured."""
    usage = os.times()
    return usage.children_user + usage.children_system


class ThreadCpu:
    """CPU seconds of one thread (the reconciler's), from /proc/<tid>/stat: the polling
    done by the benchmark's main thread is not alertplane's cost."""

    def __init__(self) -> None:
        self.tid: int | None = None

    def wrap(self, run: Callable[[threading.Event], None]) -> Callable[[threading.Event], None]:
        def marked(stop: threading.Event) -> None:
            self.tid = threading.get_native_id()
            run(stop)

        return marked

    def seconds(self) -> float:
        return 0.0 if self.tid is None else proc_status(self.tid)["cpu_s"]


def servers_cpu(servers: Iterable[Prometheus]) -> float:
    return sum(proc_status(p.proc.pid)["cpu_s"] for p in servers if p.proc is not None)


def servers_memory(servers: Iterable[Prometheus]) -> tuple[float, float]:
    """(sum of RSS, sum of peak RSS) in MB over `servers`."""
    rss = peak = 0.0
    for p in servers:
        if p.proc is not None:
            st = proc_status(p.proc.pid)
            rss, peak = rss + st["VmRSS"], peak + st["VmHWM"]
    return rss, peak


def holders(
    servers: Mapping[str, Prometheus], customer_of_group: Callable[[str], str]
) -> dict[str, set[str]]:
    """shard → the customers whose rules its Prometheus has loaded."""
    return {
        name: {customer_of_group(group) for group in rules_by_group(prom)}
        for name, prom in servers.items()
    }


def serve_memory(db: Path, workdir: Path, timeout_s: float) -> dict[str, float]:
    """`alertplane serve` over the store: seconds to ready (its first full sync), CPU
    seconds to ready, RSS then and its peak."""
    port = free_port()
    env = {**os.environ, "ALERTPLANE_DB": f"sqlite:///{db}"}
    cmd = [sys.executable, "-m", "alertplane.cli", "serve", "--port", str(port)]
    cmd += ["--out", str(workdir / "serve-out")]
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}: see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        st = proc_status(proc.pid)
                        return {
                            "ready_s": time.monotonic() - t0,
                            "cpu_s": st["cpu_s"],
                            "rss_mb": st["VmRSS"],
                            "peak_mb": st["VmHWM"],
                        }
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"serve not ready after {timeout_s:.0f}s")
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()

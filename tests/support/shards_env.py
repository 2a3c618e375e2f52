"""Real Prometheus servers as shards over one output directory, the standalone reconciler
writing to them (the files sink, sharded), and the questions the sharding tests ask."""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertplane.render.platform import PlatformConfig
from alertplane.render.yamlout import dump
from alertplane.sinks.sharded import ShardedFileSink
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncHooks, SyncReport, SyncSettings
from tests.support.processes import Prometheus, http_json


class ShardPrometheus(Prometheus):
    """One shard: loads `<out>/shards/<name>/rules/*.yml`, scrapes the targets alertplane
    lists for it (`targets.json`, file_sd), evaluates every second."""

    def __init__(self, name: str, out_dir: Path, workdir: Path) -> None:
        own = out_dir / "shards" / name
        super().__init__(own / "rules", workdir=workdir)
        self.shard = name
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [f"{own}/rules/*.yml"],
            "scrape_configs": [
                {
                    "job_name": "customers",
                    "file_sd_configs": [
                        {"files": [f"{own}/targets.json"], "refresh_interval": "1s"}
                    ],
                }
            ],
        }
        self.config.write_text(dump(config), encoding="utf-8")

    def loaded_customers(self) -> set[str]:
        """The customers whose rule file this shard has loaded (by file name)."""
        groups = http_json(f"{self.url}/api/v1/rules")["data"]["groups"]
        return {Path(g["file"]).stem for g in groups if g.get("rules")}

    def last_reload(self) -> float:
        """`prometheus_config_last_reload_success_timestamp_seconds`: moves on each
        successful reload (a second's resolution: callers wait past it between steps)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("prometheus_config_last_reload_success_timestamp_seconds "):
                    return float(line.split()[1])
        raise AssertionError("no reload timestamp in /metrics")


def platform(servers: Sequence[ShardPrometheus], **prometheus: Any) -> PlatformConfig:
    shards = [{"name": s.shard, "url": s.url} for s in servers]
    return PlatformConfig.model_validate({"prometheus": {"shards": shards, **prometheus}})


@dataclass
class Running:
    """The reconciler (as `serve` runs it) in a thread, with the reports of its passes."""

    reconciler: Reconciler
    sink: ShardedFileSink
    thread: threading.Thread
    stop: threading.Event
    reports: list[SyncReport] = field(default_factory=list)

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the reconciler did not stop"

    def reloaded(self) -> list[str]:
        return sorted(t for r in self.reports for t in r.reloads)


def run(store: Store, out_dir: Path, config: PlatformConfig) -> Running:
    """Start the standalone reconciler over `out_dir` with `config`'s shards, the moves
    audited in `store`, as serve_standalone wires it."""
    settings = SyncSettings(out_dir=out_dir, platform=config, coalesce_s=0.05, poll_s=0.02)
    sink = settings.files_sink()
    assert isinstance(sink, ShardedFileSink)
    settings.sink = sink  # the Reconciler audits its moves in `store` (sync._audit_moves)
    running: list[Running] = []
    hooks = SyncHooks(locate=sink.location, on_synced=[lambda r: running[0].reports.append(r)])
    rec = Reconciler(store, settings, hooks)
    stop = threading.Event()
    thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    running.append(Running(rec, sink, thread, stop))
    thread.start()
    return running[0]


@contextlib.contextmanager
def shard_servers(
    names: Sequence[str], out_dir: Path, tmp: Path
) -> Iterator[list[ShardPrometheus]]:
    servers = [ShardPrometheus(n, out_dir, tmp / f"prom-{n}") for n in names]
    try:
        for s in servers:
            s.start(timeout=120)
        yield servers
    finally:
        for s in servers:
            s.close()


class GapWatch:
    """Polls every shard's `/api/v1/rules` until stopped, in the order given (shards a
    customer leaves first, then those it moves to: a customer removed from a shard after
    that shard was asked is then found on its new shard), and records every round in
    which a watched customer was loaded nowhere."""

    def __init__(self, servers: Sequence[ShardPrometheus], customers: Sequence[str]) -> None:
        self.servers, self.customers = list(servers), set(customers)
        self.gaps: list[tuple[int, set[str]]] = []
        self.rounds = 0
        self.seen_twice: set[str] = set()  # loaded on two shards in a round (the overlap)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> GapWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _poll(self) -> None:
        while not self._stop.is_set():
            found: dict[str, int] = {}
            for server in self.servers:
                for customer in _answer(server):
                    found[customer] = found.get(customer, 0) + 1
            missing = self.customers - set(found)
            self.seen_twice |= {c for c, n in found.items() if n > 1}
            if missing:
                self.gaps.append((self.rounds, missing))
            self.rounds += 1


def _answer(server: ShardPrometheus) -> set[str]:
    """What `server` has loaded; nothing when it does not answer (down: it evaluates
    nothing, so a customer only it would hold counts as loaded nowhere)."""
    try:
        return server.loaded_customers()
    except OSError:  # urllib's URLError is one
        return set()

"""Topology (a) on real servers: each shard scrapes exactly its customers' targets (the
platform's file_sd list split per shard by the files sink), so a sharded customer's alert
fires on its own shard, on its data, and no shard holds or evaluates a customer it does
not hold; after a shard is added, the moved customers' data and alerts follow them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alertplane.render.placement import placement
from alertplane.render.platform import PlatformConfig
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.factories import alert, obj
from tests.support.shards_env import ShardPrometheus, platform, run, shard_servers
from tests.support.waiting import eventually

CUSTOMERS = [f"cust-{i:02d}" for i in range(8)]
DEADLINE = 180.0


class _Metrics(BaseHTTPRequestHandler):
    """`/c/<customer>`: that customer's series (the target's customer_id label names it)."""

    def do_GET(self) -> None:
        body = b"customer_load 5\n" if self.path.startswith("/c/") else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _targets(tmp: Path, address: str) -> Path:
    groups = [
        {"targets": [address], "labels": {"customer_id": c, "__metrics_path__": f"/c/{c}"}}
        for c in CUSTOMERS
    ]
    groups.append({"targets": [address], "labels": {"__metrics_path__": "/c/platform"}})
    path = tmp / "targets.json"
    path.write_text(json.dumps(groups), encoding="utf-8")
    return path


def _series_by_shard(servers: list[ShardPrometheus]) -> dict[str, set[str]]:
    return {
        s.shard: {r["metric"].get("customer_id", "") for r in s.query("customer_load")}
        for s in servers
    }


def _firing_by_shard(servers: list[ShardPrometheus]) -> dict[str, set[str]]:
    return {
        s.shard: {a["labels"]["customer_id"] for a in s.alerts() if a["state"] == "firing"}
        for s in servers
    }


def _held(config: PlatformConfig, servers: list[ShardPrometheus]) -> dict[str, set[str]]:
    where = placement(CUSTOMERS, config.prometheus)
    return {s.shard: {c for c in CUSTOMERS if where[c] == s.shard} for s in servers}


def test_each_shard_scrapes_and_alerts_on_exactly_its_customers(
    tmp_path: Path, exporter: str
) -> None:
    out = tmp_path / "out"
    targets = _targets(tmp_path, exporter)
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    store.apply(
        [obj(alert(c, expr=f'customer_load{{customer_id="{c}"}} > 1')) for c in CUSTOMERS],
        "tester",
        "cli",
    )
    with shard_servers(["a", "b", "c"], out, tmp_path) as servers:
        a, b, _ = servers
        two = platform([a, b], targetsFile=str(targets))
        running = run(store, out, two)
        try:
            want = {**_held(two, servers), "c": set()}
            assert all(want[s] for s in ("a", "b")), "both shards hold customers"
            eventually(lambda: _series_by_shard(servers) == want, DEADLINE)
            eventually(lambda: _firing_by_shard(servers) == want, DEADLINE)
        finally:
            running.halt()
        # c joins: the customers it wins move there with their targets; their series and
        # alerts leave a and b (the targets are gone from those lists: staleness markers).
        three = platform(servers, targetsFile=str(targets))
        running = run(store, out, three)
        try:
            want = _held(three, servers)
            assert want["c"], "c wins some customers"
            eventually(lambda: not running.sink.moves.leaving, DEADLINE)
            eventually(lambda: _series_by_shard(servers) == want, DEADLINE)
            eventually(lambda: _firing_by_shard(servers) == want, DEADLINE)
            for s in servers:  # the platform's own target (no customer_id) is on no list
                listed = json.loads((out / "shards" / s.shard / "targets.json").read_text())
                assert {g["labels"]["customer_id"] for g in listed} == want[s.shard]
        finally:
            running.halt()

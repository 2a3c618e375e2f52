"""Review of sharded rule evaluation (files sink) as a careless operator and a crashing
process: real Prometheus servers as shards, the standalone reconciler as `serve` runs it.

A move removes the old copy and then reloads the old shard. A crash (or a kill) between
the two leaves that shard's Prometheus evaluating the customer from memory while no
directory says so: on restart alertplane must find that out (ask each shard what it has
loaded) and unload it, or the customer is evaluated twice until that shard happens to
reload; a shard that left the configuration never reloads again: twice, forever."""

from __future__ import annotations

import logging
import shutil
import urllib.request
from pathlib import Path

import pytest

from alertplane.render.placement import placement
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.factories import alert, obj
from tests.support.shards_env import ShardPrometheus, platform, run, shard_servers
from tests.support.waiting import eventually

CUSTOMERS = [f"cust-{i:02d}" for i in range(12)]
DEADLINE = 180.0  # a loaded 2-core machine; conditions decide, never this


def _store(tmp: Path) -> Store:
    store = Store(open_db(f"sqlite:///{tmp / 'a.db'}"), secrets_dir=str(tmp / "secrets"))
    store.apply([obj(alert(c)) for c in CUSTOMERS], "tester", "cli")
    return store


def _reload(server: ShardPrometheus) -> None:
    req = urllib.request.Request(f"{server.url}/-/reload", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=60):
        pass


@pytest.mark.parametrize("old_shard", ["configured", "removed"])
def test_a_crash_between_removing_the_old_copy_and_reloading_its_shard_is_healed(
    tmp_path: Path, old_shard: str
) -> None:
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b", "c"], out, tmp_path) as servers:
        a, b, c = servers
        three = platform(servers)
        where = placement(CUSTOMERS, three.prometheus)
        first = run(store, out, three)
        try:
            eventually(
                lambda: {x: s.shard for s in servers for x in s.loaded_customers()} == where,
                DEADLINE,
            )
        finally:
            first.halt()
        # The next configuration moves customers off c: c is removed (all of them move, the
        # last one crashed), or one of them is pinned to a.
        on_c = [x for x in CUSTOMERS if where[x] == "c"]
        if old_shard == "removed":
            after, moving = platform([a, b]), on_c
        else:
            after, moving = platform(servers, pins={on_c[0]: "a"}), on_c[:1]
        now = placement(CUSTOMERS, after.prometheus)
        # The state a crash leaves: each copy written to its new shard and live there, the
        # copy on c removed, c not reloaded yet (it still evaluates them from memory).
        by_name = {s.shard: s for s in servers}
        for x in moving:
            old = out / "shards" / "c" / "rules" / f"{x}.yml"
            shutil.copy(old, out / "shards" / now[x] / "rules" / f"{x}.yml")
            _reload(by_name[now[x]])
            old.unlink()
        assert set(moving) <= c.loaded_customers()
        running = run(store, out, after)
        try:
            eventually(lambda: running.reports, DEADLINE)  # the first pass is done
            twice = set(moving) & c.loaded_customers()
            assert not twice, f"{sorted(twice)} evaluated on c and on their new shard"
            assert all(x in by_name[now[x]].loaded_customers() for x in moving)
        finally:
            running.halt()


def test_a_shard_whose_rule_files_reach_every_shard_is_named_after_a_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A careless operator lists every shard's directory in shard a's Prometheus
    `rule_files` (one template for all shards): a evaluates b's customers too, each of them twice,
    every status Synced. A restart finds a loading customers its directory does not hold,
    reloads it, and when that changes nothing says what is wrong, naming shard and file."""
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["b"], out, tmp_path) as (b,):
        a = ShardPrometheus("a", out, tmp_path / "prom-a")
        own = f"{out}/shards/a/rules/*.yml"
        text = a.config.read_text()
        assert own in text
        a.config.write_text(text.replace(own, f"{own}\n- {out}/shards/b/rules/*.yml"))
        try:
            a.start(timeout=120)
            config = platform([a, b])
            where = placement(CUSTOMERS, config.prometheus)
            on_b = sorted(x for x in CUSTOMERS if where[x] == "b")
            first = run(store, out, config)
            try:
                eventually(lambda: set(on_b) <= b.loaded_customers(), DEADLINE)
                eventually(lambda: set(on_b) <= a.loaded_customers(), DEADLINE)  # the slip
            finally:
                first.halt()
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="alertplane.shards"):
                again = run(store, out, config)
                try:
                    eventually(lambda: again.reports, DEADLINE)
                finally:
                    again.halt()
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert any("prometheus/a" in m and "rule_files" in m and on_b[0] in m for m in said), [
                r.getMessage() for r in caplog.records
            ]
        finally:
            a.close()

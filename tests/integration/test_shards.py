"""Sharded rule evaluation on real Prometheus servers (the files sink, standalone): a change
reloads only its customer's shard, every customer is loaded on exactly its shard, a restart
moves nothing, and adding or removing a shard moves exactly the expected customers with no
moment in which a moved customer's rules are loaded nowhere (/api/v1/rules polled
throughout), each move audited."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from alertplane.render.placement import moves, place, placement
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj
from tests.support.shards_env import GapWatch, ShardPrometheus, platform, run, shard_servers
from tests.support.waiting import eventually

CUSTOMERS = [f"cust-{i:02d}" for i in range(12)]
DEADLINE = 180.0  # a loaded 2-core machine; conditions decide, never this


def _store(tmp: Path) -> Store:
    store = Store(open_db(f"sqlite:///{tmp / 'a.db'}"), secrets_dir=str(tmp / "secrets"))
    store.apply([obj(alert(c)) for c in CUSTOMERS], "tester", "cli")
    return store


def _status(store: Store, customer: str) -> dict[str, Any]:
    (found,) = [s for s in store.get(customer=customer) if s.kind == "CustomerAlert"]
    return found.manifest()["status"]


def _all_synced(store: Store, generation: int = 1) -> bool:
    return all(
        _status(store, c)["phase"] == "Synced"
        and _status(store, c)["observedGeneration"] >= generation
        for c in CUSTOMERS
    )


def _loaded(servers: list[ShardPrometheus]) -> dict[str, set[str]]:
    return {s.shard: s.loaded_customers() for s in servers}


def _exactly_placed(servers: list[ShardPrometheus], expected: dict[str, str]) -> bool:
    want = {s.shard: {c for c, at in expected.items() if at == s.shard} for s in servers}
    return _loaded(servers) == want


def test_a_change_reloads_only_its_shard_and_a_restart_moves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b", "c"], out, tmp_path) as servers:
        config = platform(servers)
        expected = placement(CUSTOMERS, config.prometheus)
        running = run(store, out, config)
        try:
            eventually(lambda: _all_synced(store), DEADLINE)
            eventually(lambda: _exactly_placed(servers, expected), DEADLINE)
            for c in CUSTOMERS:  # status.renderedTo names the shard
                assert _status(store, c)["renderedTo"] == [f"shards/{expected[c]}/rules/{c}.yml"]
            changed = "cust-03"
            own = expected[changed]
            before = {s.shard: s.last_reload() for s in servers}
            # The reload timestamp has a second's resolution: let the clock pass it first.
            eventually(lambda: time.time() > max(before.values()) + 1.5, 10)
            running.reports.clear()
            store.apply(
                [obj(alert(changed, expr='rate(errors_total{customer_id="cust-03"}[1m]) > 2'))],
                "t",
                "cli",
            )
            eventually(lambda: _status(store, changed)["observedGeneration"] == 2, DEADLINE)
            eventually(lambda: _status(store, changed)["phase"] == "Synced", DEADLINE)
            after = {s.shard: s.last_reload() for s in servers}
            assert [s for s in after if after[s] != before[s]] == [own]
            assert running.reloaded() == [f"prometheus/{own}"]  # the sink's account agrees
        finally:
            running.halt()
        # A restart with the same shard list: the same placement, nothing written or reloaded.
        before = {s.shard: s.last_reload() for s in servers}
        again = run(store, out, config)
        try:
            eventually(lambda: again.reports, DEADLINE)
            first = again.reports[0]
            assert first.written == [] and first.reloads == {}
            assert again.sink.moves.leaving == {}
            assert {s.shard: s.last_reload() for s in servers} == before
            assert _exactly_placed(servers, expected)
        finally:
            again.halt()


def _moves_without_gap(
    store: Store,
    out: Path,
    servers: list[ShardPrometheus],
    before: Any,
    after: Any,
    order: list[str],
) -> list[Any]:
    """Restart with the `after` shard list while GapWatch polls every shard in `order`."""
    by_name = {s.shard: s for s in servers}
    expected = placement(CUSTOMERS, after.prometheus)
    moved = moves(CUSTOMERS, before.prometheus, after.prometheus)
    with GapWatch([by_name[n] for n in order], CUSTOMERS) as watch:
        running = run(store, out, after)
        try:
            eventually(lambda: _exactly_placed(servers, expected), DEADLINE)
            eventually(lambda: not running.sink.moves.leaving, DEADLINE)
            eventually(lambda: _all_synced(store), DEADLINE)
            eventually(lambda: watch.rounds > 3, DEADLINE)  # polled after the end too
        finally:
            running.halt()
    assert watch.gaps == [], f"customers loaded nowhere during the move: {watch.gaps[:5]}"
    assert watch.rounds > 3
    audited = [
        (r.customer_id, r.before["shard"], r.after["shard"])
        for c in CUSTOMERS
        for r in store.history(customer=c)
        if r.action == "move"
    ]
    return [audited, moved, expected, running]


def test_adding_then_removing_a_shard_moves_only_the_expected_customers_without_gap(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b", "c", "d"], out, tmp_path) as servers:
        a, b, c, d = servers
        three, four, without_c = platform([a, b, c]), platform([a, b, c, d]), platform([a, b, d])
        first = run(store, out, three)
        try:
            eventually(lambda: _all_synced(store), DEADLINE)
            eventually(
                lambda: _exactly_placed(servers, placement(CUSTOMERS, three.prometheus)), DEADLINE
            )
        finally:
            first.halt()
        # Adding d: only customers d now wins move, all of them to d; the old shards first.
        audited, moved, _, _ = _moves_without_gap(
            store, out, servers, three, four, ["a", "b", "c", "d"]
        )
        assert moved and all(m.target == "d" for m in moved)
        assert len(moved) < len(CUSTOMERS) / 2
        assert sorted(audited) == sorted((m.customer_id, m.source, m.target) for m in moved)
        for m in moved:
            assert _status(store, m.customer_id)["renderedTo"] == [
                f"shards/d/rules/{m.customer_id}.yml"
            ]
        # Removing c: only c's customers move; c (no longer configured) is emptied through
        # the URL recorded in state.json, so it evaluates nobody any more.
        audited2, moved2, _, _ = _moves_without_gap(
            store, out, servers, four, without_c, ["c", "a", "b", "d"]
        )
        assert moved2 and all(m.source == "c" for m in moved2)
        on_c = {x for x, at in placement(CUSTOMERS, four.prometheus).items() if at == "c"}
        assert {m.customer_id for m in moved2} == on_c
        assert sorted(audited2) == sorted(
            {(m.customer_id, m.source, m.target) for m in moved}
            | {(m.customer_id, m.source, m.target) for m in moved2}
        )
        assert c.loaded_customers() == set()
        state = json.loads((out / "shards" / "state.json").read_text())
        assert sorted(state["shards"]) == ["a", "b", "d"]
        assert not (out / "shards" / "c").exists()


def test_a_pinned_customer_stays_put(tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b"], out, tmp_path) as servers:
        unpinned = platform(servers)
        target = "cust-00"
        other = "b" if place(target, unpinned.prometheus) == "a" else "a"
        pinned = platform(servers, pins={target: other})
        running = run(store, out, pinned)
        try:
            eventually(lambda: _all_synced(store), DEADLINE)
            expected = placement(CUSTOMERS, pinned.prometheus)
            assert expected[target] == other
            eventually(lambda: _exactly_placed(servers, expected), DEADLINE)
        finally:
            running.halt()


def test_a_new_shard_that_is_down_leaves_its_customers_where_they_are(tmp_path: Path) -> None:
    """The move waits for the new shard: its customers stay loaded (and evaluated) on the
    old one, their status names the shard that is missing, everyone else is Synced; once
    the shard is up, the retry finishes the move."""
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b"], out, tmp_path) as servers:
        d = ShardPrometheus("d", out, tmp_path / "prom-d")  # configured, not started yet
        try:
            two, three = platform(servers), platform([*servers, d])
            first = run(store, out, two)
            try:
                eventually(lambda: _all_synced(store), DEADLINE)
            finally:
                first.halt()
            moved = {m.customer_id for m in moves(CUSTOMERS, two.prometheus, three.prometheus)}
            assert moved
            with GapWatch([*servers, d], CUSTOMERS) as watch:
                running = run(store, out, three)
                try:
                    for c in moved:
                        eventually(
                            lambda c=c: (
                                _synced_message(store, c).startswith("prometheus/d: ")
                                and "still evaluated on" in _synced_message(store, c)
                                and _status(store, c)["phase"] != "Synced"
                            ),
                            DEADLINE,
                        )
                    assert set(running.sink.moves.leaving) == moved
                    eventually(
                        lambda: all(
                            _status(store, c)["phase"] == "Synced"
                            for c in CUSTOMERS
                            if c not in moved
                        ),
                        DEADLINE,
                    )
                    d.start(timeout=120)
                    eventually(lambda: not running.sink.moves.leaving, DEADLINE)
                    eventually(lambda: _all_synced(store), DEADLINE)
                    want = placement(CUSTOMERS, three.prometheus)
                    eventually(lambda: _exactly_placed([*servers, d], want), DEADLINE)
                finally:
                    running.halt()
            assert watch.gaps == []
        finally:
            d.close()


def _synced_message(store: Store, customer: str) -> str:
    conditions = _status(store, customer)["conditions"]
    return next((c.get("message", "") for c in conditions if c["type"] == "Synced"), "")


def test_a_removed_shard_that_is_already_stopped_is_let_go(tmp_path: Path) -> None:
    """Its customers move to the others; its reload cannot happen and is not needed (a
    stopped Prometheus evaluates nothing, and reads the emptied directory if started
    again): the process does not keep failing on it, and state.json forgets it."""
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b", "c"], out, tmp_path) as servers:
        a, b, c = servers
        three, two = platform(servers), platform([a, b])
        first = run(store, out, three)
        try:
            eventually(lambda: _all_synced(store), DEADLINE)
        finally:
            first.halt()
        c.stop()
        running = run(store, out, two)
        try:
            eventually(
                lambda: _exactly_placed([a, b], placement(CUSTOMERS, two.prometheus)), DEADLINE
            )
            eventually(lambda: _all_synced(store), DEADLINE)
            eventually(lambda: not running.sink.former, DEADLINE)
            assert running.reconciler.failing_since is None

            def recorded() -> list[str]:
                return sorted(json.loads((out / "shards" / "state.json").read_text())["shards"])

            eventually(lambda: recorded() == ["a", "b"], DEADLINE)  # written just after
        finally:
            running.halt()
        c.start(timeout=120)  # started again: it loads nobody
        assert c.loaded_customers() == set()


def test_a_move_interrupted_after_writing_the_new_shard_resumes_without_gap(
    tmp_path: Path,
) -> None:
    """A crash between writing a customer's new shard and reloading it: on restart both
    directories hold the customer, the new shard has not loaded it. alertplane finds that
    out (asks the new shard), reloads it, and only then leaves the old one."""
    out = tmp_path / "out"
    store = _store(tmp_path)
    with shard_servers(["a", "b", "c", "d"], out, tmp_path) as servers:
        a, b, c, d = servers
        three, four = platform([a, b, c]), platform(servers)
        first = run(store, out, three)
        try:
            eventually(lambda: _all_synced(store), DEADLINE)
        finally:
            first.halt()
        moved = moves(CUSTOMERS, three.prometheus, four.prometheus)
        for m in moved:  # the interrupted move: written to d, d never reloaded
            src = out / "shards" / str(m.source) / "rules" / f"{m.customer_id}.yml"
            dst = out / "shards" / "d" / "rules" / f"{m.customer_id}.yml"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(src.read_text())
        assert d.loaded_customers() == set()
        with GapWatch([a, b, c, d], CUSTOMERS) as watch:
            running = run(store, out, four)
            try:
                want = placement(CUSTOMERS, four.prometheus)
                eventually(lambda: _exactly_placed(servers, want), DEADLINE)
                eventually(lambda: not running.sink.moves.leaving, DEADLINE)
                eventually(lambda: watch.rounds > 3, DEADLINE)
            finally:
                running.halt()
        assert watch.gaps == []
        assert {
            r.customer_id
            for c in CUSTOMERS
            for r in store.history(customer=c)
            if r.action == "move"
        } == {m.customer_id for m in moved}


def test_going_from_one_prometheus_to_shards_moves_everyone_once(tmp_path: Path) -> None:
    """Output of an unsharded run (`<out>/rules/`) is the old location: each customer is
    written to its shard, live there, then removed from `<out>/rules/` (whose Prometheus
    alertplane no longer reloads: it keeps them loaded, evaluated twice, never missing)."""
    out = tmp_path / "out"
    store = _store(tmp_path)
    unsharded = Reconciler(store, SyncSettings(out_dir=out))
    assert unsharded.sync_all().outcome == "ok"
    assert sorted(p.stem for p in (out / "rules").glob("*.yml")) == CUSTOMERS
    with shard_servers(["a", "b"], out, tmp_path) as servers:
        config = platform(servers)
        running = run(store, out, config)
        try:
            eventually(
                lambda: _exactly_placed(servers, placement(CUSTOMERS, config.prometheus)), DEADLINE
            )
            eventually(lambda: not running.sink.moves.leaving, DEADLINE)
            eventually(lambda: _all_synced(store), DEADLINE)
        finally:
            running.halt()
    assert list((out / "rules").glob("*.yml")) == []
    audited = [
        (r.before["shard"], r.after["shard"])
        for c in CUSTOMERS
        for r in store.history(customer=c)
        if r.action == "move"
    ]
    assert sorted(audited) == sorted(
        (None, at) for at in placement(CUSTOMERS, config.prometheus).values()
    )

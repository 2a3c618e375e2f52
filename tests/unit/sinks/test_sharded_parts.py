"""The sharded files sink's parts that need no Prometheus: the move protocol's bookkeeping
(sinks/sharded_moves.py) and the directory layout read back on start (sharded_layout.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.render.yamlout import GENERATED
from alertplane.sinks.base import Liveness
from alertplane.sinks.sharded_layout import (
    customer_of,
    read_state,
    remove_empty,
    rules_rel,
    scan,
    write_state,
)
from alertplane.sinks.sharded_moves import Moved, MoveTracker

LIVE, PENDING = Liveness(True, "Reloaded"), Liveness(False, "Pending", "not loaded yet")


def test_a_customer_leaves_its_old_shard_only_once_live_on_its_own() -> None:
    moves = MoveTracker()
    audited: list[Moved] = []
    moves.on_moved.append(audited.append)
    moves.note("acme", "d", {"a", "d"})
    moves.note("globex", "b", {"b"})  # at home: nothing to move
    assert moves.leaving == {"acme": {"a"}}
    assert moves.ready(lambda c: PENDING) == []  # not live on d: stays on a
    assert moves.leaving == {"acme": {"a"}}
    assert moves.ready(lambda c: LIVE) == ["acme"]
    moves.finish("acme", "d", {"a"})
    assert moves.leaving == {} and audited == [Moved("acme", "a", "d")]


def test_a_failing_audit_does_not_undo_the_move(caplog: pytest.LogCaptureFixture) -> None:
    moves = MoveTracker()

    def broken(_: Moved) -> None:
        raise RuntimeError("database down")

    moves.on_moved.append(broken)
    moves.note("acme", "d", {None, "d"})  # from the unsharded layout
    moves.finish("acme", "d", {None})
    assert moves.leaving == {}
    assert "recording the move of acme failed" in caplog.text


def test_a_customer_whose_rules_went_away_is_forgotten() -> None:
    moves = MoveTracker()
    moves.note("acme", "d", {"a", "d"})
    moves.forget("acme")
    assert moves.ready(lambda c: LIVE) == []


def _rule(path: Path, ours: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((GENERATED if ours else "# mine\n") + "groups: []\n", encoding="utf-8")


def test_scan_reads_back_every_shard_and_the_unsharded_layout(tmp_path: Path) -> None:
    _rule(tmp_path / "rules" / "acme.yml")  # before sharding
    _rule(tmp_path / "shards" / "a" / "rules" / "acme.yml")
    _rule(tmp_path / "shards" / "b" / "rules" / "globex.yml")
    _rule(tmp_path / "shards" / "b" / "rules" / "hand-made.yml", ours=False)  # never ours
    _rule(tmp_path / "shards" / "Not_A_Shard" / "rules" / "x.yml")  # no shard has that name
    assert scan(tmp_path) == {"acme": {None, "a"}, "globex": {"b"}}


def test_names_and_paths() -> None:
    assert rules_rel("a", "acme") == "shards/a/rules/acme.yml"
    assert rules_rel(None, "acme") == "rules/acme.yml"
    assert customer_of("rules/acme.yml") == "acme"
    assert customer_of("alertmanager.yml") is None
    assert customer_of("shards/a/rules/acme.yml") is None  # a location, not an output


def test_state_round_trips_and_garbage_reads_as_none(tmp_path: Path) -> None:
    assert read_state(tmp_path) == {}
    write_state(tmp_path, {"b": "http://b:9090", "a": None})
    assert read_state(tmp_path) == {"a": None, "b": "http://b:9090"}
    (tmp_path / "shards" / "state.json").write_text('{"shards": {"../x": "u", "ok": 3}}')
    assert read_state(tmp_path) == {"ok": None}
    (tmp_path / "shards" / "state.json").write_text("not json")
    assert read_state(tmp_path) == {}


def test_an_emptied_former_shard_directory_goes_and_a_busy_one_stays(tmp_path: Path) -> None:
    (tmp_path / "shards" / "c" / "rules").mkdir(parents=True)
    (tmp_path / "shards" / "c" / "targets.json").write_text("[]")
    remove_empty(tmp_path, "c")
    assert not (tmp_path / "shards" / "c").exists()
    _rule(tmp_path / "shards" / "d" / "rules" / "foreign.yml", ours=False)
    remove_empty(tmp_path, "d")
    assert (tmp_path / "shards" / "d" / "rules" / "foreign.yml").exists()

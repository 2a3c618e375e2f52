"""The operator's finished shard moves as audit rows (k8s/mirror.py `record_move`) on SQLite
and a real PostgreSQL: one row each, queued while the database is down and written when it
is back, never doubled by a retry or a second replica, none from a fenced replica; shown by
`alertplane history` and the store's scoped history like standalone's moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from alertplane.cli import main
from alertplane.errors import AlertplaneError
from alertplane.k8s.changes import MoveEntry
from alertplane.k8s.mirror import Mirror
from alertplane.k8s.state import ClusterState
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.store.tables import AuditRow
from tests.integration.test_k8s_mirror import _outage
from tests.support.factories import alert, body

ACTOR = "alertplane-operator/op-1_abcd1234"


def _moves(url: str) -> list[tuple[str, str, str | None, str, str]]:
    with open_db(url)() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.kind == "Placement").order_by(AuditRow.id))
        return [
            (r.name, r.action, (r.before or {}).get("shard"), (r.after or {})["shard"], r.actor)
            for r in rows
        ]


def _move(customer: str, source: str | None, target: str) -> MoveEntry:
    return MoveEntry(customer, source, target, ACTOR, datetime.now(UTC))


def test_moves_written_once_each_and_kept_through_an_outage(db_url: str) -> None:
    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    state.on_change.append(mirror.record)
    state.observe(body(alert("acme")))
    mirror.record_move(_move("acme", "a", "b"))
    mirror.flush()
    assert _moves(db_url) == [("acme", "move", "a", "b", ACTOR)]

    stop, restore = _outage(db_url)
    stop()
    mirror.record_move(_move("globex", None, "a"))  # sharding turned on: from unsharded
    mirror.record_move(_move("acme", "b", "c"))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.flush()
    restore()
    mirror.flush()
    assert _moves(db_url)[-2:] == [
        ("globex", "move", None, "a", ACTOR),
        ("acme", "move", "b", "c", ACTOR),
    ]
    # A write retried after its commit's answer was lost, or the same move finished by a
    # second replica: the customer's latest Placement row already is it, nothing is added.
    n = len(_moves(db_url))
    mirror.record_move(_move("acme", "b", "c"))
    mirror.flush()
    assert len(_moves(db_url)) == n
    # A move back and then the same move again are two more moves, both kept.
    mirror.record_move(_move("acme", "c", "b"))
    mirror.record_move(_move("acme", "b", "c"))
    mirror.flush()
    assert _moves(db_url)[-2:] == [
        ("acme", "move", "c", "b", ACTOR),
        ("acme", "move", "b", "c", ACTOR),
    ]


def test_a_fenced_replica_writes_no_move(db_url: str) -> None:
    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    mirror.flush()  # the first comparison, while it still led

    def lost() -> None:
        raise AlertplaneError("this replica no longer holds the Lease")

    mirror.fence = lost
    mirror.record_move(_move("acme", "a", "b"))
    with pytest.raises(AlertplaneError):
        mirror.flush()
    assert _moves(db_url) == []


def test_history_shows_moves_in_both_modes_without_an_empty_namespace(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = Mirror(db_url, ClusterState().snapshot, set())
    mirror.record_move(_move("acme", "a", "b"))
    mirror.flush()
    store = Store(open_db(db_url))
    store.record_move("acme", "b", "c")  # standalone's way
    # A store scoped to the customer's namespaces (tenant binding) still shows its moves.
    rows = store.within({"acme"}).history(customer="acme")
    assert [(r.kind, r.actor) for r in rows] == [("Placement", ACTOR), ("Placement", "alertplane")]
    assert store.within({"acme"}).history(customer="globex") == []
    capsys.readouterr()
    assert main(["history", "--db", db_url, "--customer", "acme"]) == 0
    shown = capsys.readouterr().out
    assert "placement//" not in shown
    assert shown.count("move     placement/acme  ") == 2, shown
    assert f"by {ACTOR} (shards)" in shown and "-shard: a" in shown and "+shard: c" in shown

"""The operator's database mirror (k8s/mirror.py) on SQLite and a real PostgreSQL: each change
written once, an unreachable database reported, a comparison again after an outage."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

from alertplane.errors import ObjectRef
from alertplane.k8s.mirror import Mirror
from alertplane.k8s.state import ClusterState
from alertplane.store.tables import AuditRow, ObjectRow, StatusRow
from tests.support.factories import alert, body, receiver


def _audit(url: str) -> list[tuple[str, str, int, str]]:
    from alertplane.store.db import open_db

    with open_db(url)() as s:
        rows = s.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        return [(r.action, r.name, r.generation, r.actor) for r in rows]


def test_mirror_writes_each_change_once(db_url: str) -> None:
    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    state.on_change.append(mirror.record)
    secret = receiver("acme", slack=[{"apiURL": "https://hooks.example/SUPERSECRET"}])
    managed = [{"manager": "kubectl-client-side-apply", "time": "2024-01-01T00:00:00Z",
                "fieldsV1": {"f:spec": {}}}]  # fmt: skip
    state.observe(body(alert("acme"), managedFields=managed))
    state.observe(body(secret))
    mirror.flush()
    assert mirror.mirrored(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")) == (True, "")
    state.observe(body(alert("acme", enabled=False), generation=2))
    state.observe(body(alert("acme", enabled=False), generation=2))  # same again: no row
    state.forget("CustomerReceiver", "acme", "acme-oncall")
    mirror.flush()
    assert _audit(db_url) == [
        ("create", "acme-higherrorrate", 1, "kubectl-client-side-apply"),
        ("create", "acme-oncall", 1, "unknown"),
        ("disable", "acme-higherrorrate", 2, "unknown"),
        ("delete", "acme-oncall", 1, "unknown"),
    ]

    # A restarted operator compares everything once: nothing is recorded twice, and what
    # vanished while it was down is recorded as deleted.
    restarted = ClusterState()
    restarted.observe(body(alert("globex")))
    again = Mirror(db_url, restarted.snapshot, set())
    again.flush()
    again.flush()
    assert _audit(db_url)[4:] == [
        ("create", "globex-higherrorrate", 1, "unknown"),
        ("delete", "acme-higherrorrate", 2, "unknown"),
    ]
    from alertplane.store.db import open_db

    with open_db(db_url)() as s:
        assert [r.name for r in s.scalars(select(ObjectRow))] == ["globex-higherrorrate"]
        dumped = json.dumps([r.after for r in s.scalars(select(AuditRow))])
    assert "SUPERSECRET" not in dumped


def test_mirror_reports_an_unreachable_database(tmp_path: Path) -> None:
    state = ClusterState()
    mirror = Mirror("postgresql://nobody@127.0.0.1:1/none", state.snapshot, set())
    state.on_change.append(mirror.record)
    state.observe(body(alert("acme")))
    assert mirror.load_live() == {}
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.flush()
    ok, message = mirror.mirrored(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"))
    assert not ok and "1 change(s) queued" in message


def _outage(db_url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """A real database failure and its end: PostgreSQL stops accepting connections (and
    drops those it has); SQLite's file is replaced with an empty database (no tables) and
    later restored from a copy, through SQLite's backup API as a live restore would be."""
    if db_url.startswith("sqlite"):
        path = make_url(db_url).database
        saved = sqlite3.connect(":memory:")

        def restore_sqlite(source: sqlite3.Connection) -> None:
            with closing(sqlite3.connect(cast(str, path))) as live:
                source.backup(live)

        with closing(sqlite3.connect(cast(str, path))) as live:
            live.backup(saved)
        return lambda: restore_sqlite(sqlite3.connect(":memory:")), lambda: restore_sqlite(saved)
    url = make_url(db_url)
    name = url.database

    def admin(sql: str) -> None:
        dsn = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)

    def stop() -> None:
        admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    return stop, lambda: admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_mirror_compares_again_after_an_outage_once_the_queue_is_written(db_url: str) -> None:
    from alertplane.k8s.leading import mirror_statuses
    from alertplane.store.db import open_db

    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    state.on_change.append(mirror.record)
    mirror.on_created.append(lambda refs: mirror_statuses(state, mirror, refs))
    state.observe(body(alert("acme")))
    shown = {"observedGeneration": 1, "phase": "Synced", "conditions": []}
    state.observe({**body(receiver("acme")), "status": shown})
    mirror.flush()
    rule = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    oncall = ObjectRef("CustomerReceiver", "acme", "acme-oncall")

    def by(manager: str) -> list[dict[str, Any]]:
        return [{"manager": manager, "time": "2024-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}}]

    stop, restore = _outage(db_url)
    stop()
    state.observe(body(alert("acme", enabled=False), generation=2, managedFields=by("alice")))
    state.observe(body(alert("acme"), generation=3, managedFields=by("bob")))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.flush()
    ok, message = mirror.mirrored(rule)
    assert not ok and "2 change(s) queued" in message
    assert mirror.mirrored(oncall) == (True, "")  # only queued changes are pending

    # The database comes back from a backup older than the receiver's creation.
    restore()
    with open_db(db_url).begin() as s:
        row = s.scalars(select(ObjectRow).where(ObjectRow.name == "acme-oncall")).one()
        s.execute(delete(StatusRow).where(StatusRow.object_id == row.id))
        s.execute(delete(AuditRow).where(AuditRow.name == "acme-oncall"))
        s.delete(row)
    assert mirror.flush() == [rule]
    mirror.flush()
    assert _audit(db_url) == [
        ("create", "acme-higherrorrate", 1, "unknown"),
        ("disable", "acme-higherrorrate", 2, "alice"),  # the outage's changes, in order...
        ("enable", "acme-higherrorrate", 3, "bob"),
        ("create", "acme-oncall", 1, "unknown"),  # ...then the comparison, once
    ]
    assert mirror.mirrored(rule) == mirror.mirrored(oncall) == (True, "")
    # The recreated row carries the object's status again, not a fresh Pending one.
    with open_db(db_url)() as s:
        row = s.scalars(select(ObjectRow).where(ObjectRow.name == "acme-oncall")).one()
        status = s.get(StatusRow, row.id)
        assert status is not None
        assert (status.phase, status.observed_generation) == ("Synced", 1)

"""The reconciler's change feed (`Store.changed_since`, ordered by audit id) never skips a
change committed out of id order: the classic sequence-gap race, where a transaction that
got id n commits after one that got n+1 and a reader already moved its marker past n+1.

Deterministic: two writers, the first paused between its audit insert and its commit
while the second writes and the feed is read. Stress: many writers on distinct customers
against a reader polling the feed, as the reconciler does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from alertplane.model import Resource
from alertplane.store import writes
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.validate import parse_document
from tests.adversarial.concurrency_env import at_once, eventually
from tests.support.factories import alert


def obj(customer: str, name: str = "HighErrorRate") -> Resource:
    parsed, problems = parse_document(alert(customer, name))
    assert parsed is not None, problems
    return parsed


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(open_db(db_url), secrets_dir=str(tmp_path / "secrets"))
    yield s
    s.engine.dispose()


def _waiting_on_a_lock(store: Store) -> bool:
    """Whether some other session of this database waits for a lock (PostgreSQL)."""
    with store.engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar()
    return bool(n)


def test_feed_sees_a_change_committed_after_a_later_id(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = store.change_marker()
    paused, release = threading.Event(), threading.Event()
    insert_audit = writes.audit

    def audit(conn: Any, action: str, ref: Any, customer: str, *rest: Any) -> None:
        insert_audit(conn, action, ref, customer, *rest)
        if customer == "early":  # inserted (its id taken), not committed
            paused.set()
            assert release.wait(120)

    monkeypatch.setattr(writes, "audit", audit)
    early = threading.Thread(target=store.apply, args=([obj("early")], "a", "cli"))
    late = threading.Thread(target=store.apply, args=([obj("late")], "b", "cli"))
    early.start()
    assert paused.wait(60)
    late.start()
    # The later writer has committed (a higher id than the paused one) or waits behind it.
    if store.engine.dialect.name == "postgresql":
        eventually(lambda: not late.is_alive() or _waiting_on_a_lock(store), what="late")
    else:
        late.join(1.0)  # SQLite's one writer lock: it waits (not observable from here)
    seen, marker = store.changed_since(marker)
    release.set()
    early.join(60)
    late.join(60)
    more, marker = store.changed_since(marker)
    assert seen | more == {"early", "late"}, f"the feed saw {seen} then {more}"
    assert store.changed_since(marker) == (set(), marker)


def test_feed_under_concurrent_creates_misses_nothing(store: Store) -> None:
    customers = [f"c{i:03d}" for i in range(150)]
    seen: set[str] = set()
    stop = threading.Event()
    marker = store.change_marker()

    def poll() -> None:
        nonlocal marker
        while not stop.is_set():
            touched, marker = store.changed_since(marker)
            seen.update(touched)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        at_once([lambda c=c: store.apply([obj(c)], c, "cli") for c in customers], workers=30)
    finally:
        stop.set()
        reader.join(60)
    touched, _ = store.changed_since(marker)
    seen.update(touched)
    missing = sorted(set(customers) - seen)
    assert not missing, f"the change feed skipped {len(missing)}: {missing[:10]}"

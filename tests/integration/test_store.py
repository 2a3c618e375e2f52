"""Store operations and the audit trail, each on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from alertplane.errors import ObjectRef, UsageError
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.factories import alert, obj, receiver

SECRET_URL = "https://hooks.slack.example/services/T000/B000/SUPERSECRET"
SECRET_KEY = "pd-routing-key-SUPERSECRET"


def make_store(url: str, tmp_path: Path) -> Store:
    return Store(open_db(url), secrets_dir=str(tmp_path / "secrets"))


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Store:
    return make_store(db_url, tmp_path)


def test_apply_create_update_unchanged(store: Store) -> None:
    a = alert()
    assert [str(c) for c in store.apply([obj(a)], "alice", "cli")] == [
        "customeralert/acme-higherrorrate created"
    ]
    assert [c.action for c in store.apply([obj(a)], "alice", "cli")] == ["unchanged"]
    changed = alert(expr='rate(errors_total{customer_id="acme"}[10m]) > 1')
    (change,) = store.apply([obj(changed)], "bob", "cli")
    assert (change.action, change.generation) == ("configured", 2)
    rows = store.history(name="acme-higherrorrate")
    assert [(r.action, r.generation, r.actor) for r in rows] == [
        ("create", 1, "alice"),
        ("update", 2, "bob"),
    ]
    assert rows[1].before is not None and rows[1].after is not None
    assert rows[1].before["expr"] == a["spec"]["expr"]
    assert rows[1].after["expr"] == changed["spec"]["expr"]


def test_enable_disable_are_named_in_the_audit(store: Store) -> None:
    store.apply([obj(alert())], "a", "cli")
    store.apply([obj(alert(enabled=False))], "a", "cli")
    store.apply([obj(alert(enabled=True))], "a", "cli")
    assert [r.action for r in store.history()] == ["create", "disable", "enable"]


def test_delete_and_missing(store: Store) -> None:
    store.apply([obj(alert())], "a", "cli")
    ref = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    assert [c.action for c in store.delete([ref], "a", "cli")] == ["deleted"]
    assert store.get() == []
    last = store.history()[-1]
    assert (last.action, last.after) == ("delete", None)
    with pytest.raises(UsageError, match="not found"):
        store.delete([ref], "a", "cli")


def test_rollback_restores_a_version_as_a_new_change(store: Store) -> None:
    store.apply([obj(alert(severity="warning"))], "a", "cli")
    store.apply([obj(alert(severity="critical"))], "a", "cli")
    ref = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    change = store.rollback(ref, 1, "carol")
    assert (change.action, change.generation) == ("rolled-back", 3)
    (stored,) = store.get()
    assert stored.spec["severity"] == "warning"
    last = store.history()[-1]
    assert (last.action, last.actor, last.source) == ("rollback", "carol", "rollback")
    with pytest.raises(UsageError, match="has no version 9"):
        store.rollback(ref, 9, "carol")


def test_clear_secrets_never_reach_the_database(store: Store, db_url: str, tmp_path: Path) -> None:
    r = receiver(
        slack=[{"apiURL": SECRET_URL, "channel": "#a"}],
        pagerduty=[{"routingKey": SECRET_KEY}],
    )
    store.apply([obj(r)], "a", "cli")
    (stored,) = store.get()
    assert stored.spec["slack"][0] == {
        "apiURLSecretRef": {"name": "acme-oncall", "key": "slack-api-url-0"},
        "channel": "#a",
    }
    secret = tmp_path / "secrets" / "acme" / "acme-oncall" / "slack-api-url-0"
    assert secret.read_text() == SECRET_URL
    assert secret.stat().st_mode & 0o777 == 0o600
    with store.sessions() as s:
        dump = " ".join(
            str(row)
            for table in ("objects", "audit", "status")
            for row in s.execute(text(f"SELECT * FROM {table}")).all()
        )
    assert "SUPERSECRET" not in dump
    assert "SUPERSECRET" not in str(stored.manifest())


def test_clear_secret_without_secrets_dir_is_refused(db_url: str) -> None:
    store = Store(open_db(db_url), secrets_dir=None)
    with pytest.raises(UsageError, match="secrets directory"):
        store.apply([obj(receiver(slack=[{"apiURL": SECRET_URL}]))], "a", "cli")
    assert store.get() == []


def test_change_feed_names_touched_customers(store: Store) -> None:
    marker = store.change_marker()
    store.apply([obj(alert("acme")), obj(alert("globex"))], "a", "cli")
    touched, marker2 = store.changed_since(marker)
    assert touched == {"acme", "globex"} and marker2 > marker
    assert store.changed_since(marker2) == (set(), marker2)


def test_migrations_are_idempotent(db_url: str, tmp_path: Path) -> None:
    make_store(db_url, tmp_path).apply([obj(alert())], "a", "cli")
    again = make_store(db_url, tmp_path)  # runs `upgrade head` a second time
    assert len(again.get()) == 1

"""The reconciler against the files sink (reload URLs unset); reloads are covered by the
integration tests against real Prometheus and Alertmanager."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from alertplane.errors import ObjectRef
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.store.tables import SyncRunRow
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj, receiver


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def reconciler(store: Store, out: Path) -> Reconciler:
    return Reconciler(store, SyncSettings(out_dir=out, coalesce_s=0.2, poll_s=0.02))


def status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    return found.manifest()["status"]


def rules(out: Path, customer: str) -> dict[str, Any]:
    return yaml.safe_load((out / "rules" / f"{customer}.yml").read_text())


def test_first_sync_renders_and_reports(store: Store, out: Path) -> None:
    store.apply([obj(alert("acme")), obj(receiver("acme")), obj(alert("globex"))], "a", "cli")
    report = reconciler(store, out).sync_all()
    assert report.outcome == "ok"
    assert sorted(report.written) == ["alertmanager.yml", "rules/acme.yml", "rules/globex.yml"]
    st = status(store, "acme-higherrorrate")
    assert st["phase"] == "Synced" and st["observedGeneration"] == 1
    assert st["renderedTo"] == ["rules/acme.yml"]
    assert [(c["type"], c["status"], c["reason"]) for c in st["conditions"]] == [
        ("Valid", "True", "Validated"),
        ("Synced", "True", "Written"),
    ]
    assert status(store, "acme-oncall")["renderedTo"] == ["alertmanager.yml"]


def test_invalid_edit_keeps_last_good_live_and_blocks_nobody(store: Store, out: Path) -> None:
    rec = reconciler(store, out)
    store.apply([obj(alert("acme")), obj(alert("globex"))], "a", "cli")
    rec.sync_all()
    good = rules(out, "acme")
    store.apply([obj(alert("acme", expr="rate(errors_total[5m]) > 1"))], "a", "cli")
    store.apply([obj(alert("globex", severity="warning"))], "a", "cli")
    report = rec.sync({"acme", "globex"})
    assert report.outcome == "invalid"
    assert rules(out, "acme") == good  # generation 1 stays live
    assert rules(out, "globex")["groups"][0]["rules"][0]["labels"]["severity"] == "warning"
    st = status(store, "acme-higherrorrate")
    assert st["phase"] == "Invalid" and st["observedGeneration"] == 2
    valid, synced = st["conditions"]
    assert valid["message"] == (
        'spec.expr: selector errors_total{} has no customer_id="acme" matcher; '
        'add customer_id="acme" inside its braces'
    )
    assert (synced["reason"], synced["message"]) == (
        "Superseded",
        "generation 1 stays live; generation 2 is invalid",
    )
    assert status(store, "globex-higherrorrate")["phase"] == "Synced"


def test_invalid_new_object_is_not_rendered(store: Store, out: Path) -> None:
    store.apply([obj(alert("acme", expr="vector(1)"))], "a", "cli")
    reconciler(store, out).sync_all()
    assert not (out / "rules" / "acme.yml").exists()
    st = status(store, "acme-higherrorrate")
    assert st["phase"] == "Invalid"
    assert st["conditions"][1]["message"] == "not rendered: the spec is invalid"


def test_disable_then_delete_removes_rules(store: Store, out: Path) -> None:
    rec = reconciler(store, out)
    store.apply([obj(alert("acme")), obj(alert("acme", "Other"))], "a", "cli")
    rec.sync_all()
    store.apply([obj(alert("acme", enabled=False))], "a", "cli")
    rec.sync({"acme"})
    names = [r["alert"] for g in rules(out, "acme")["groups"] for r in g["rules"]]
    assert names == ["Other"]
    assert status(store, "acme-higherrorrate")["phase"] == "Disabled"
    assert status(store, "acme-higherrorrate")["renderedTo"] == []
    store.delete(
        [
            ObjectRef("CustomerAlert", "acme", "acme-other"),
            ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"),
        ],
        "a",
        "cli",
    )
    report = rec.sync({"acme"})
    assert "rules/acme.yml" in report.written
    assert not (out / "rules" / "acme.yml").exists()
    am = yaml.safe_load((out / "alertmanager.yml").read_text())
    assert am["route"]["routes"] == []


def test_unchanged_output_is_not_rewritten(store: Store, out: Path) -> None:
    rec = reconciler(store, out)
    store.apply([obj(alert("acme")), obj(alert("globex"))], "a", "cli")
    rec.sync_all()
    before = (out / "rules" / "globex.yml").stat().st_ino
    store.apply([obj(alert("acme", severity="info"))], "a", "cli")
    report = rec.sync({"acme"})
    assert report.written == ["rules/acme.yml"]
    assert (out / "rules" / "globex.yml").stat().st_ino == before


def test_restart_rederives_everything_and_prunes(store: Store, out: Path) -> None:
    store.apply([obj(alert("acme"))], "a", "cli")
    reconciler(store, out).sync_all()
    stale = out / "rules" / "gone.yml"
    stale.write_text((out / "rules" / "acme.yml").read_text())
    foreign = out / "rules" / "hand-written.yml"
    foreign.write_text("groups: []\n")
    (out / "alertmanager.yml").unlink()
    report = reconciler(store, out).sync_all()  # a fresh process
    assert sorted(report.written) == ["alertmanager.yml", "rules/gone.yml"]
    assert not stale.exists() and foreign.exists()


def _syncs(store: Store) -> int:
    with store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(SyncRunRow)) or 0)


def test_changes_close_together_are_coalesced(store: Store, out: Path) -> None:
    rec = reconciler(store, out)
    stop = threading.Event()
    worker = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    worker.start()
    try:
        assert rec.ready.wait(30)
        first = _syncs(store)
        for i in range(10):  # ten changes across customers within ~50 ms
            store.apply([obj(alert(f"c{i}"))], "a", "cli")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list((out / "rules").glob("*.yml"))) < 10:
            time.sleep(0.05)
        assert len(list((out / "rules").glob("*.yml"))) == 10
        time.sleep(0.5)  # let a stray second pass show up if coalescing were broken
        assert _syncs(store) - first <= 2
    finally:
        stop.set()
        worker.join(10)

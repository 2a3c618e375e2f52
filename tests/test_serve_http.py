"""Health, readiness and metrics endpoints of `alertplane serve`."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from alertplane.api.app import create_app
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.factories import alert
from tests.test_store import obj


def test_health_ready_metrics(tmp_path: Path) -> None:
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"))
    rec = Reconciler(store, SyncSettings(out_dir=tmp_path / "out"))
    client = TestClient(create_app(rec))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 503  # first sync not done yet
    store.apply([obj(alert("acme"))], "a", "cli")
    rec.sync_all()
    rec.ready.set()
    assert client.get("/readyz").status_code == 200
    text = client.get("/metrics").text
    assert 'alertplane_objects{kind="CustomerAlert",phase="Synced"} 1.0' in text
    assert 'alertplane_syncs_total{outcome="ok"}' in text
    assert "alertplane_sync_duration_seconds_bucket" in text
    assert "alertplane_rendered_rules 1.0" in text

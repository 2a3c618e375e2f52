"""Health, readiness and metrics endpoints of `alertplane serve`."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from fastapi.testclient import TestClient

from alertplane.metrics_port import serve_metrics
from alertplane.service.context import ApiSettings
from alertplane.service.tokens import token_line
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from alertplane.web import create_app
from tests.support.factories import alert, obj
from tests.support.processes import free_port


def test_health_ready_metrics(tmp_path: Path) -> None:
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"))
    rec = Reconciler(store, SyncSettings(out_dir=tmp_path / "out"))
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        token_line("ops", "admin", "ap_admin") + "\n" + token_line("a", "customer:acme", "ap_a")
    )
    client = TestClient(create_app(rec, ApiSettings.from_file(tokens)))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 503  # first sync not done yet
    store.apply([obj(alert("acme"))], "a", "cli")
    rec.sync_all()
    rec.ready.set()
    assert client.get("/readyz").status_code == 200
    # On the API port, /metrics counts every customer's objects: admin tokens only.
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer ap_a"}).status_code == 403
    text = client.get("/metrics", headers={"Authorization": "Bearer ap_admin"}).text
    assert 'alertplane_objects{kind="CustomerAlert",phase="Synced"} 1.0' in text
    assert 'alertplane_syncs_total{outcome="ok"}' in text
    assert "alertplane_sync_duration_seconds_bucket" in text
    assert "alertplane_rendered_rules 1.0" in text


def test_metrics_port_serves_metrics_without_a_token_and_nothing_else() -> None:
    port = free_port()
    server = serve_metrics("127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.status == 200 and b"alertplane_syncs_total" in r.read()
        for path in ("/customers", "/console/", "/healthz"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
                raise AssertionError(path)
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
    finally:
        server.shutdown()
        server.server_close()

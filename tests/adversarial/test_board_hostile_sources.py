"""The board's Prometheus answering with hostile content: another customer's alerts and
ALERTS series (a shared or misconfigured Prometheus, a proxy), a body larger than the cap,
an answer trickled past the deadline. The board keeps the caller's own only, says what it
could not read, and never waits or reads without bound. Real HTTP servers on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alertplane.render.platform import PlatformConfig
from alertplane.service import board
from alertplane.service.board_sources import alerts_range
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings

Body = Callable[[BaseHTTPRequestHandler], None]
ACME = Principal("acme-team", "acme")


@pytest.fixture
def serve() -> Iterator[Callable[[Body], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(body: Body) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(OSError):  # the client gave up
                    body(self)

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def context(tmp_path: Path, prometheus_url: str) -> Context:
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    platform = PlatformConfig()
    settings = SyncSettings(out_dir=tmp_path / "out", platform=platform)
    settings.prometheus_url = prometheus_url
    return Context(Reconciler(store, settings), store, ApiSettings(), platform=platform)


def answer(data: dict[str, Any]) -> Body:
    raw = json.dumps({"status": "success", "data": data}).encode()

    def body(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    return body


def alert(customer: str, name: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "customer_id": customer, "severity": "critical"},
        "state": "pending",
        "activeAt": "2026-12-07T10:00:00Z",
        "value": "1",
    }


def test_other_customers_alerts_and_series_are_dropped(serve: Any, tmp_path: Path) -> None:
    def both(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/api/v1/alerts"):
            alerts = [alert("acme", "Mine"), alert("globex", "Theirs"), alert("acme-eu", "Near")]
            answer({"alerts": [*alerts, {"labels": "junk"}, "junk"]})(handler)
        else:  # query_range: a series of another customer slipped in
            series = [
                {"metric": {"alertname": "Mine", "customer_id": "acme"}, "values": [[1, "1"]]},
                {"metric": {"alertname": "Theirs", "customer_id": "globex"}, "values": [[1, "1"]]},
                {"metric": {"alertname": "NoTenant"}, "values": [[1, "1"]]},
            ]
            answer({"resultType": "matrix", "result": series})(handler)

    ctx = context(tmp_path, serve(both))
    found = board.build(ctx, ACME, ["acme"])
    assert [(a.customer, a.alertname) for a in found.alerts] == [("acme", "Mine")]
    series, problems = alerts_range(ctx, "acme", 0, 3600, 15, 5)
    assert [s["metric"]["alertname"] for s in series] == ["Mine"] and problems == []


def test_a_huge_answer_is_not_read_whole(serve: Any, tmp_path: Path) -> None:
    def huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        chunk = b" " * (1 << 20)
        for _ in range(64):  # 64 MiB of whitespace, twice the cap
            handler.wfile.write(chunk)

    ctx = context(tmp_path, serve(huge))
    found = board.build(ctx, ACME, ["acme"])
    assert "prometheus: Prometheus' answer is too large" in found.problems
    assert found.alerts == []


def test_a_trickling_answer_costs_its_deadline(serve: Any, tmp_path: Path) -> None:
    done = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        while not done.is_set():  # a byte now and then, for as long as it is read
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    ctx = context(tmp_path, serve(trickle))
    try:
        found = board.build(ctx, ACME, ["acme"])
    finally:
        done.set()
    assert "prometheus: Prometheus did not answer" in found.problems

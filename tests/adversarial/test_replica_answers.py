"""An Alertmanager replica (or a target of the reconciler) that trickles its answer or
answers with a huge body: the firing view and the liveness questions stop waiting at their
deadline and stop reading at their size cap, and the other replicas' answers still serve.

Before: `urlopen(timeout=...)` bounded each socket read, not the answer; a replica sending
a byte every now and then held the API request (and the reconciler's pass) until it was
done, and any body was read whole into memory, then parsed.
Real HTTP servers on loopback (dynamic ports); the order of events, not timings, decides.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alertplane import http_read
from alertplane.errors import UpstreamFailed
from alertplane.render.platform import PlatformConfig
from alertplane.service.alertmanagers import alertmanager_alerts
from alertplane.service.context import ApiSettings, Context
from alertplane.sinks import loaded_query
from alertplane.store.db import open_db
from alertplane.store.repo import Store

Body = Callable[[BaseHTTPRequestHandler], None]


def _alert(name: str, fingerprint: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "customer_id": "acme"},
        "fingerprint": fingerprint,
        "status": {"state": "active"},
    }


@pytest.fixture
def serve() -> Iterator[Callable[[Body], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(body: Body) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(OSError):  # the client gave up (the fix)
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


def _json(data: Any) -> Body:
    def body(handler: BaseHTTPRequestHandler) -> None:
        raw = json.dumps(data).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    return body


def _trickle(raw: bytes, stop: threading.Event, done: threading.Event) -> Body:
    """`raw`, a byte every 20 ms after 2,000 bytes of leading whitespace (~40 s)."""

    def body(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        for byte in b" " * 2000 + raw:
            if stop.wait(0.02):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        done.set()

    return body


def _ctx(tmp_path: Path, urls: list[str]) -> Context:
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    replicas = [{"name": f"am-{i}", "url": url} for i, url in enumerate(urls)]
    platform = PlatformConfig.model_validate({"alertmanager": {"replicas": replicas}})
    return Context(None, store, ApiSettings(), platform=platform)


QUERY = {"active": "true"}
TENANTS = ["acme"]  # the customers the caller may see (asked as tenants only with Mimir)


def test_a_trickling_replica_does_not_hold_the_firing_view(
    tmp_path: Path, serve: Callable[[Body], str]
) -> None:
    stop, done = threading.Event(), threading.Event()
    slow = serve(_trickle(json.dumps([_alert("SLOW", "s")]).encode(), stop, done))
    fast = serve(_json([_alert("FAST", "f")]))
    try:
        got = alertmanager_alerts(_ctx(tmp_path, [slow, fast]), QUERY, 0.5, TENANTS)
        finished_first = done.is_set()
    finally:
        stop.set()
    assert not finished_first, "the firing view waited for the trickling replica's whole answer"
    assert [a["labels"]["alertname"] for a in got] == ["FAST"]


def test_a_trickling_only_alertmanager_is_upstream_failed(
    tmp_path: Path, serve: Callable[[Body], str]
) -> None:
    stop, done = threading.Event(), threading.Event()
    raw = json.dumps([_alert("SLOW", "s")]).encode()
    slow = [serve(_trickle(raw, stop, done)) for _ in range(2)]
    try:
        with pytest.raises(UpstreamFailed):
            alertmanager_alerts(_ctx(tmp_path, slow), QUERY, 0.5, TENANTS)
        finished_first = done.is_set()
    finally:
        stop.set()
    assert not finished_first


def test_a_huge_answer_is_not_read_whole(
    tmp_path: Path, serve: Callable[[Body], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_read, "MAX_ANSWER_BYTES", 1 << 20)
    big = _json([_alert("BIG", f"big-{i}") for i in range(20_000)])  # ~2 MB
    huge, huge_too = serve(big), serve(big)
    fine = serve(_json([_alert("FINE", "f")]))
    got = alertmanager_alerts(_ctx(tmp_path, [huge, fine]), QUERY, 5.0, TENANTS)
    assert [a["labels"]["alertname"] for a in got] == ["FINE"]
    with pytest.raises(UpstreamFailed, match="larger than 1 MiB"):
        alertmanager_alerts(_ctx(tmp_path, [huge, huge_too]), QUERY, 5.0, TENANTS)


def test_a_trickling_alertmanager_does_not_hold_the_reconciler(
    serve: Callable[[Body], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The liveness question (`alertmanager_config_hash` on /metrics, `/api/v2/status`)
    of a half-dead replica ends at its deadline: QueryFailed, Pending, next pass."""
    monkeypatch.setattr(loaded_query, "TIMEOUT_S", 0.5)
    stop, done = threading.Event(), threading.Event()
    slow = serve(_trickle(b"alertmanager_config_hash 1\n", stop, done))
    try:
        with pytest.raises(loaded_query.QueryFailed):
            loaded_query.config_hash(slow)
        with pytest.raises(loaded_query.QueryFailed):
            loaded_query.loaded_config(slow)
        finished_first = done.is_set()
    finally:
        stop.set()
    assert not finished_first

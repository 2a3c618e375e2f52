"""A shard that hangs on reload does not hold up the other shards' reloads in the same
pass: shards are reloaded side by side. The hung shard is a stand-in HTTP server that
holds `POST /-/reload` until released (never timing out: it keeps sending a header byte by
byte); the other shard is a real Prometheus. Reloaded one after the other, the real shard
would wait for the release, which comes only after the test has seen it reloaded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alertplane.render.placement import placement
from alertplane.render.platform import PlatformConfig
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.factories import alert, obj
from tests.support.shards_env import run, shard_servers
from tests.support.waiting import eventually

CUSTOMERS = [f"cust-{i:02d}" for i in range(8)]


class Hung:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.reloads = 0


@pytest.fixture
def hung() -> Iterator[tuple[str, Hung]]:
    state = Hung()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            """Hold the reload: a header trickled byte by byte keeps the client waiting
            (each byte restarts its read timeout) until released."""
            state.reloads += 1
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Reloading: ")
            while not state.release.wait(0.5):
                self.wfile.write(b".")
                self.wfile.flush()
            self.wfile.write(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.close_connection = True

        def do_GET(self) -> None:  # loads nothing: its customers stay Pending, never mind
            self._answer(json.dumps({"status": "success", "data": {"groups": []}}).encode())

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _expr(customer: str, n: int) -> str:
    return f'rate(errors_total{{customer_id="{customer}"}}[5m]) > {n}'


def test_a_hung_shard_does_not_hold_up_another_shards_reload(
    tmp_path: Path, hung: tuple[str, Hung]
) -> None:
    url, state = hung
    out = tmp_path / "out"
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    store.apply([obj(alert(c)) for c in CUSTOMERS], "tester", "cli")
    with shard_servers(["b"], out, tmp_path) as (real,):
        # "a-hung" sorts first: reloaded one after the other, it would go first and block.
        config = PlatformConfig.model_validate(
            {
                "prometheus": {
                    "shards": [{"name": "a-hung", "url": url}, {"name": "b", "url": real.url}]
                }
            }
        )
        where = placement(CUSTOMERS, config.prometheus)
        on_hung = next(c for c in CUSTOMERS if where[c] == "a-hung")
        on_real = next(c for c in CUSTOMERS if where[c] == "b")
        running = run(store, out, config)
        try:
            eventually(lambda: on_real in real.loaded_customers(), 180)
            eventually(lambda: state.reloads > 0, 180)
            state.release.clear()  # from now on the hung shard holds every reload
            before = state.reloads
            store.apply(
                [
                    obj(alert(on_hung, expr=_expr(on_hung, 7))),
                    obj(alert(on_real, expr=_expr(on_real, 7))),
                ],
                "tester",
                "cli",
            )
            eventually(lambda: state.reloads > before, 180)  # the hung reload is in progress

            def real_has_it() -> bool:
                rules = [r for r in real.rules() if r["query"].startswith("rate(errors_total")]
                return any(
                    f'customer_id="{on_real}"' in r["query"] and r["query"].endswith("> 7")
                    for r in rules
                )

            eventually(real_has_it, 180)
            assert not state.release.is_set()  # ... while the hung shard still holds its reload
        finally:
            state.release.set()
            running.halt()

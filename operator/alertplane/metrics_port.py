"""`alertplane serve --metrics-port`: /metrics on a listener of its own, without a token.

The metrics count every customer's objects and syncs, so the API port (the one customers
reach) serves them only to admin tokens; this port is for the platform's Prometheus, and
is meant to be reachable by it alone (a port the customers' Service/Ingress does not
expose), as the operator's `--metrics-port` is.
"""

from __future__ import annotations

import errno
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .errors import UsageError
from .metrics import REGISTRY


class PlainHandler(BaseHTTPRequestHandler):
    """A small GET-only handler's answers (also the operator's health port): a body with
    its length, and no access log (the scrapes would flood it)."""

    def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            # The prober gave up first (a probe's timeout on a busy process): nobody is
            # left to answer. Not an error of this process, so no traceback in its log.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_metrics(host: str, port: int) -> ThreadingHTTPServer:
    """Start serving /metrics in a daemon thread; UsageError when the port is taken."""

    class Handler(PlainHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found: this port only serves /metrics\n")

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"--metrics-port {port}: the port is in use on {host}",
                "stop what listens there or choose another --metrics-port",
            ) from exc
        raise UsageError(f"--metrics-port {port}: cannot listen on {host}: {exc.strerror}") from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

"""A demo exporter: per-customer metrics (label customer_id) that breach the example thresholds.

    python -m alertplane.stack.exporter --port 9101 [--healthy]

Values are deterministic: counters grow at fixed rates from the start, gauges are fixed,
so the examples' alerts fire (acme errors and disk, globex backlog) unless --healthy.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (customer, service, requests/s, failing fraction)
TRAFFIC = [
    ("acme", "checkout", 50.0, 0.10),
    ("acme", "search", 20.0, 0.0),
    ("globex", "dispatch", 30.0, 0.0005),
    ("initech", "tps", 5.0, 0.0),
]
LATENCY = [("acme", "checkout", 0.2), ("acme", "search", 0.9), ("globex", "dispatch", 0.1)]
DISKS = [
    ("acme", "web-1", "/", 0.05),
    ("acme", "web-1", "/data", 0.5),
    ("globex", "db-1", "/", 0.4),
    ("initech", "tps-1", "/", 0.7),
]
QUEUES = [("globex", "parcels", 1500.0), ("globex", "returns", 20.0)]


def render(elapsed: float, healthy: bool) -> str:
    lines = ["# TYPE app_http_requests_total counter"]
    for cid, service, rps, failing in TRAFFIC:
        failing = 0.0 if healthy else failing
        total = rps * elapsed
        lines.append(
            f'app_http_requests_total{{customer_id="{cid}",service="{service}",'
            f'code="200"}} {total * (1 - failing):.3f}'
        )
        lines.append(
            f'app_http_requests_total{{customer_id="{cid}",service="{service}",'
            f'code="500"}} {total * failing:.3f}'
        )
    lines.append("# TYPE app_request_latency_p99_seconds gauge")
    for cid, service, p99 in LATENCY:
        value = min(p99, 0.3) if healthy else p99
        lines.append(
            f'app_request_latency_p99_seconds{{customer_id="{cid}",service="{service}"}} {value}'
        )
    lines.append("# TYPE node_filesystem_avail_ratio gauge")
    for cid, host, mount, ratio in DISKS:
        value = max(ratio, 0.5) if healthy else ratio
        lines.append(
            f'node_filesystem_avail_ratio{{customer_id="{cid}",host="{host}",'
            f'mountpoint="{mount}"}} {value}'
        )
    lines.append("# TYPE app_queue_depth gauge")
    for cid, queue, depth in QUEUES:
        lines.append(
            f'app_queue_depth{{customer_id="{cid}",queue="{queue}"}} '
            f"{min(depth, 10) if healthy else depth}"
        )
    lines.append("# TYPE app_stapler_present gauge")
    lines.append('app_stapler_present{customer_id="initech"} 1')
    return "\n".join(lines) + "\n"


def serve(port: int, healthy: bool = False, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    start = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = render(time.monotonic() - start + 60, healthy).encode()
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            if self.path == "/metrics":
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=9101)
    ap.add_argument("--healthy", action="store_true", help="no example alert fires")
    args = ap.parse_args()
    serve(args.port, args.healthy)
    threading.Event().wait()


if __name__ == "__main__":
    main()

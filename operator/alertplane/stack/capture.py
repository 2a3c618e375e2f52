"""Local capture receivers: an SMTP server and an HTTP endpoint that keep what they receive.

    python -m alertplane.stack.capture --smtp-port 2525 --http-port 9097 --out DIR

Every message becomes one file in DIR: `http-<n>.json` (path, headers, JSON body) for
webhook/Slack/PagerDuty posts, `mail-<n>.json` (envelope, subject, body) for email, so
tests and people can see exactly which customer got what.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Capture:
    def __init__(self, out: Path, smtp_port: int, http_port: int) -> None:
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.smtp_port, self.http_port = smtp_port, http_port
        self._http: ThreadingHTTPServer | None = None
        self._smtp: Controller | None = None

    def _write(self, prefix: str, record: dict[str, Any]) -> None:
        with self._lock:
            path = self.out / f"{prefix}-{next(self._seq):05d}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        tmp.rename(path)  # readers never see half a message

    def start(self) -> Capture:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                capture._write(
                    "http", {"path": self.path, "body": body, "headers": dict(self.headers.items())}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')

            def log_message(self, *args: object) -> None:
                pass

        class MailHandler:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                content = envelope.content or b""
                raw = content if isinstance(content, bytes) else content.encode()
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                parts = {
                    p.get_content_type(): p.get_content()
                    for p in msg.walk()
                    if not p.is_multipart()
                }
                capture._write(
                    "mail",
                    {
                        "from": envelope.mail_from,
                        "to": envelope.rcpt_tos,
                        "subject": str(msg["Subject"]),
                        "parts": parts,
                    },
                )
                return "250 OK"

        self._http = ThreadingHTTPServer(("127.0.0.1", self.http_port), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self._smtp = Controller(MailHandler(), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._smtp is not None:
            self._smtp.stop()

    def messages(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.out.glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            record["kind"] = path.name.split("-", 1)[0]
            found.append(record)
        return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smtp-port", type=int, default=2525)
    ap.add_argument("--http-port", type=int, default=9097)
    ap.add_argument("--out", default="capture")
    args = ap.parse_args()
    Capture(Path(args.out), args.smtp_port, args.http_port).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()

"""`GET /customers/{id}/firing` with `serve --sink mimir`, on the real Grafana Mimir behind a
small authenticating gateway: each customer is asked as its own tenant of Mimir's
Alertmanager, with the sink's bearer token file. Customer A's token sees A's firing alert
and never B's — not even an alert in B's tenant that claims to be A's by its labels."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alertplane.service.tokens import token_line
from tests.support.api_env import ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, TOKENS, receiver_spec
from tests.support.api_serve import ApiServer, call
from tests.support.mimir_env import Mimir
from tests.support.waiting import eventually

GATEWAY_TOKEN = "gw-token-51d0"
AM_ALERTS = "/alertmanager/api/v2/alerts"


class Gateway:
    """What docs/mimir.md asks for in front of Mimir, reduced to its point here: requests
    without the bearer token are refused (401); the others are forwarded as they are.
    Records (method, path, X-Scope-OrgID) of each request it forwarded."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {GATEWAY_TOKEN}":
                    self.send_response(401)
                    self.end_headers()
                    return
                path = self.path.split("?", 1)[0]
                gateway.seen.append((self.command, path, self.headers.get("X-Scope-OrgID")))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                req = urllib.request.Request(
                    upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        status, raw = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, raw = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def firing_tenants(self) -> list[str | None]:
        return [t for m, p, t in self.seen if (m, p) == ("GET", AM_ALERTS)]


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    with Mimir(tmp_path_factory.mktemp("mimir")) as m:
        yield m


def post_alert(mimir: Mimir, tenant: str, labels: dict[str, str]) -> bool:
    """An alert straight into `tenant`'s Alertmanager in Mimir (as the ruler sends them);
    False while Mimir has not started that tenant's Alertmanager yet."""
    body = json.dumps([{"labels": labels, "annotations": {"summary": labels["alertname"]}}])
    req = urllib.request.Request(
        mimir.url + AM_ALERTS, data=body.encode(), method="POST",
        headers={"X-Scope-OrgID": tenant, "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError:
        return False


def names(status: int, answer: Any) -> list[str]:
    assert status == 200, answer
    return [a["labels"]["alertname"] for a in answer["items"]]


# --workers 2: the API's worker processes get the Mimir settings too (workers.WorkerSpec).
@pytest.mark.parametrize("workers", [1, 2])
def test_each_customer_reads_only_its_own_tenant(
    tmp_path: Path, mimir: Mimir, workers: int
) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("".join(token_line(n, r, t) + "\n" for t, n, r in TOKENS.values()))
    token_file = tmp_path / "mimir-token"
    token_file.write_text(GATEWAY_TOKEN + "\n")
    args = ["--db", f"sqlite:///{tmp_path / 'a.db'}", "--tokens", str(tokens),
            "--out", str(tmp_path / "out"), "--sink", "mimir",
            "--workers", str(workers)]  # fmt: skip
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    with Gateway(mimir.url) as gw:
        args += ["--mimir-url", gw.url, "--mimir-token-file", str(token_file)]
        with ApiServer(tmp_path / "serve", args, env) as api:
            for cid, token in (("acme", ACME_TOKEN), ("globex", GLOBEX_TOKEN)):
                status, body = call(
                    f"{api.url}/customers/{cid}/receivers", "POST", receiver_spec(), token
                )
                assert status in (200, 201), body
                eventually(lambda cid=cid: mimir.config(cid) is not None, 120)
            # Mimir runs a tenant's Alertmanager once its configuration is polled (1 s).
            eventually(lambda: post_alert(mimir, "acme", {
                "alertname": "AcmeDown", "customer_id": "acme"}), 120)  # fmt: skip
            eventually(lambda: post_alert(mimir, "globex", {
                "alertname": "GlobexDown", "customer_id": "globex"}), 120)  # fmt: skip
            # In globex's tenant, labelled as acme's: a shared view filtered by the
            # customer_id label would hand it to acme; the tenant header does not.
            assert post_alert(mimir, "globex", {"alertname": "Impostor", "customer_id": "acme"})

            def acme_sees() -> list[str]:
                return names(*call(f"{api.url}/customers/acme/firing", token=ACME_TOKEN))

            eventually(lambda: acme_sees() == ["AcmeDown"], 60)
            gw.seen.clear()
            assert acme_sees() == ["AcmeDown"]
            assert gw.firing_tenants() == ["acme"]  # asked as its tenant, and only that
            # Another customer's view: not found for acme's token, nothing asked of Mimir.
            gw.seen.clear()
            status, _ = call(f"{api.url}/customers/globex/firing", token=ACME_TOKEN)
            assert status == 404
            assert gw.firing_tenants() == []
            globex = call(f"{api.url}/customers/globex/firing", token=GLOBEX_TOKEN)
            assert names(*globex) == ["GlobexDown"]  # the impostor's label is not globex's
            admin = call(f"{api.url}/customers/globex/firing", token=ADMIN_TOKEN)
            assert names(*admin) == ["GlobexDown"]
            # The Impostor is really there (so the checks above could have failed).
            assert "Impostor" in str(mimir.get(AM_ALERTS, "globex")[1])

            # The token file is re-read per request: a wrong token is refused by the
            # gateway, a clean 502 (no token in the answer), then the right one works again.
            token_file.write_text("gw-token-wrong\n")
            status, body = call(f"{api.url}/customers/acme/firing", token=ACME_TOKEN)
            assert status == 502, body
            assert "refused (HTTP 401)" in body["detail"]
            assert "gw-token" not in json.dumps(body)
            token_file.write_text(GATEWAY_TOKEN + "\n")
            assert acme_sees() == ["AcmeDown"]

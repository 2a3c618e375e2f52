"""The board with `serve --sink mimir` on the real Grafana Mimir behind the authenticating
gateway of test_mimir_firing: each customer is asked as its own tenant, of Mimir's
Alertmanager and of its Prometheus API (ruler alerts, the timeline's query_range), and an
alert in another tenant labelled as a customer's is never shown as that customer's, not
even on an admin's board of every customer."""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.console.session import COOKIE
from alertplane.service.tokens import token_line
from tests.integration.test_mimir_firing import GATEWAY_TOKEN, Gateway, post_alert
from tests.support.api_env import ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, TOKENS, receiver_spec
from tests.support.api_serve import ApiServer, call
from tests.support.mimir_env import Mimir
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    with Mimir(tmp_path_factory.mktemp("mimir-board")) as m:
        yield m


def board(url: str, path: str, token: str) -> str:
    req = urllib.request.Request(
        f"{url}/console{path}",
        headers={"cookie": f"{COOKIE}={token}", "x-console-fragment": "1"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def shown(page: str) -> list[tuple[str, str]]:
    """(alert, customer link) of each row of a board of every customer."""
    rows = re.findall(r'data-alert="([^"]+)">.*?</th>\s*<td><a href="[^"]*">(\w+)</a>', page, re.S)
    return sorted(rows)


def test_board_asks_each_tenant_and_attributes_by_tenant(tmp_path: Path, mimir: Mimir) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("".join(token_line(n, r, t) + "\n" for t, n, r in TOKENS.values()))
    token_file = tmp_path / "mimir-token"
    token_file.write_text(GATEWAY_TOKEN + "\n")
    args = ["--db", f"sqlite:///{tmp_path / 'a.db'}", "--tokens", str(tokens),
            "--out", str(tmp_path / "out"), "--sink", "mimir"]  # fmt: skip
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
            eventually(lambda: post_alert(mimir, "acme", {
                "alertname": "AcmeDown", "customer_id": "acme"}), 120)  # fmt: skip
            eventually(lambda: post_alert(mimir, "globex", {
                "alertname": "GlobexDown", "customer_id": "globex"}), 120)  # fmt: skip
            assert post_alert(mimir, "globex", {"alertname": "Impostor", "customer_id": "acme"})

            def every() -> list[tuple[str, str]] | None:
                found = shown(board(api.url, "/fragments/board", ADMIN_TOKEN))
                return found if len(found) >= 2 else None

            assert eventually(every, 60) == [("AcmeDown", "acme"), ("GlobexDown", "globex")]
            gw.seen.clear()
            page = board(api.url, "/customers/acme/board", ACME_TOKEN)
            assert 'data-alert="AcmeDown"' in page and "Impostor" not in page
            assert "GlobexDown" not in page and "globex" not in page
            assert "warning-box" not in page  # every source answered, the timeline too
            asked = {(path, tenant) for _, path, tenant in gw.seen}
            assert asked == {
                ("/alertmanager/api/v2/alerts", "acme"),
                ("/prometheus/api/v1/alerts", "acme"),
                ("/prometheus/api/v1/query_range", "acme"),
            }
            # The Impostor is really in globex's tenant (so the checks above could fail).
            assert "Impostor" in str(mimir.get("/alertmanager/api/v2/alerts", "globex")[1])

"""Silences with `serve --sink mimir`, on the real Grafana Mimir behind the authenticating
gateway: a customer's silence is made in Mimir's Alertmanager as the customer's own tenant
(and carries customer_id too), so it silences that tenant's alert and cannot even reach
another tenant's identical one; listing asks only the customer's tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.service.tokens import token_line
from tests.integration.test_mimir_firing import GATEWAY_TOKEN, Gateway, post_alert
from tests.support.api_env import ACME_TOKEN, GLOBEX_TOKEN, TOKENS, receiver_spec
from tests.support.api_serve import ApiServer, call
from tests.support.mimir_env import Mimir
from tests.support.paths import ROOT
from tests.support.silences import silence_body
from tests.support.waiting import eventually

SILENCES = "/alertmanager/api/v2/silences"


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    with Mimir(tmp_path_factory.mktemp("mimir")) as m:
        yield m


def _silenced_by(mimir: Mimir, tenant: str) -> list[list[str]]:
    status, text = mimir.get("/alertmanager/api/v2/alerts", tenant)
    assert status == 200, text
    return [a["status"]["silencedBy"] for a in json.loads(text)]


def test_a_silence_lives_in_its_customers_tenant(tmp_path: Path, mimir: Mimir) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("".join(token_line(n, r, t) + "\n" for t, n, r in TOKENS.values()))
    token_file = tmp_path / "mimir-token"
    token_file.write_text(GATEWAY_TOKEN + "\n")
    args = ["--db", f"sqlite:///{tmp_path / 'a.db'}", "--tokens", str(tokens),
            "--out", str(tmp_path / "out"), "--sink", "mimir"]  # fmt: skip
    env = {"PYTHONPATH": str(ROOT / "operator")}
    with Gateway(mimir.url) as gw:
        args += ["--mimir-url", gw.url, "--mimir-token-file", str(token_file)]
        with ApiServer(tmp_path / "serve", args, env) as api:
            for cid, token in (("acme", ACME_TOKEN), ("globex", GLOBEX_TOKEN)):
                status, body = call(
                    f"{api.url}/customers/{cid}/receivers", "POST", receiver_spec(), token
                )
                assert status in (200, 201), body
                eventually(lambda cid=cid: mimir.config(cid) is not None, 120)
            for cid in ("acme", "globex"):
                labels = {"alertname": "DiskFull", "customer_id": cid}
                eventually(lambda labels=labels, cid=cid: post_alert(mimir, cid, labels), 120)

            gw.seen.clear()
            status, made = call(
                f"{api.url}/customers/acme/silences", "POST", silence_body(), ACME_TOKEN
            )
            assert status == 201, made
            assert {t for _, p, t in gw.seen if p.startswith(SILENCES)} == {"acme"}
            status, text = mimir.get(SILENCES, "acme")
            assert [s["id"] for s in json.loads(text)] == [made["id"]]
            assert json.loads(mimir.get(SILENCES, "globex")[1]) == []
            assert eventually(lambda: _silenced_by(mimir, "acme") == [[made["id"]]], 60)
            assert _silenced_by(mimir, "globex") == [[]]
            listed = call(f"{api.url}/customers/acme/silences", token=ACME_TOKEN)[1]["items"]
            assert [s["id"] for s in listed] == [made["id"]]
            assert call(f"{api.url}/customers/globex/silences", token=GLOBEX_TOKEN) == (
                200,
                {"items": []},
            )
            url = f"{api.url}/customers/acme/silences/{made['id']}"
            status, gone = call(url, "DELETE", token=ACME_TOKEN)
            assert (status, gone["status"]) == (200, {"state": "expired"})

"""GET /board and /customers/{id}/board: the live board as JSON, against a real
Prometheus 2.42 and Alertmanager 0.25 (the console's fixture: test_console_board.live)."""

from __future__ import annotations

from typing import Any

from tests.integration.test_console_board import live
from tests.support.api_env import ACME, ADMIN, GLOBEX
from tests.support.console import env, examples
from tests.support.waiting import eventually

__all__ = ["env", "examples", "live"]  # fixtures


def test_board_json(live: Any) -> None:
    env, _, _ = live
    c = env.client

    def ready() -> dict[str, Any] | None:
        body = c.get("/customers/acme/board", headers=ACME).json()
        firing = [i for i in body["items"] if i["state"] == "firing" and i["fingerprint"]]
        return body if firing and len(body["items"]) == 2 else None

    body = eventually(ready, timeout=60)
    assert body["problems"] == []
    assert body["counts"] == {"firing": 1, "pending": 1, "inhibited": 0, "silenced": 0}
    high, slow = body["items"]
    assert (high["alertName"], high["severity"], high["value"]) == (
        "HighErrorRate",
        "critical",
        "42.5",
    )
    assert high["receivers"] == ["oncall", "team"] and high["customerId"] == "acme"
    assert 'app_http_requests_total{customer_id="acme", code=~"5.."}' in high["expr"]
    assert (slow["alertName"], slow["state"], slow["fingerprint"]) == (
        "SlowResponses",
        "pending",
        "",
    )

    r = c.get("/customers/acme/board?state=pending&limit=1", headers=ACME).json()
    assert [i["alertName"] for i in r["items"]] == ["SlowResponses"] and r["more"] == 0
    r = c.get("/customers/acme/board?limit=1", headers=ACME).json()
    assert len(r["items"]) == 1 and r["more"] == 1
    every = eventually(lambda: c.get("/board", headers=ADMIN).json(), timeout=10)
    assert {i["customerId"] for i in every["items"]} == {"acme", "globex"}
    mine = c.get("/board", headers=GLOBEX).json()
    assert {i["alertName"] for i in mine["items"]} == {"QueueBacklog"}
    r = c.get("/board?customer=acme", headers=GLOBEX)
    assert (r.status_code, r.json()) == (404, {"detail": "customer not found"})
    r = c.get("/customers/acme/board?state=burning", headers=ACME)
    assert r.status_code == 422

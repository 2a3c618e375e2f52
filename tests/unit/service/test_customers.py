"""Customer-wide operations: who sees which customers, routing, firing alerts."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from alertplane.errors import Invalid, Unavailable, UpstreamFailed
from alertplane.service import crud, customers
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.objects import RECEIVER
from tests.unit.service.conftest import ACME, ADMIN


def receiver(name: str = "oncall", **over: Any) -> dict[str, Any]:
    return {"receiverName": name, "webhook": [{"url": f"http://hooks.example/{name}"}], **over}


def test_a_customer_token_sees_its_own_customer_only(ctx: Context, acme: Access) -> None:
    crud.create(ctx, Access(ADMIN, "globex"), RECEIVER, receiver())
    crud.create(ctx, acme, RECEIVER, receiver())
    assert customers.visible(ctx, ACME) == ["acme"]
    assert sorted(customers.visible(ctx, ADMIN)) == ["acme", "globex"]
    (row,) = customers.overview(ctx, ACME, ["acme"])
    assert (row["alerts"], row["receivers"], row["phases"]) == (0, 1, {"Pending": 1})


def test_routes_are_set_all_or_none(ctx: Context, acme: Access) -> None:
    crud.create(ctx, acme, RECEIVER, receiver())
    with pytest.raises(Invalid) as invalid:
        customers.set_routes(ctx, acme, {"routes": {"oncall": {}, "nobody": {}}})
    assert [p.path for p in invalid.value.problems] == ["routes.nobody"]
    route = {"match": {"severity": ["critical"]}}
    (out,) = customers.set_routes(ctx, acme, {"routes": {"oncall": route}})
    assert out["spec"]["route"]["match"]["severity"] == ["critical"]


def test_route_test_answers_for_the_customer_of_the_path(ctx: Context, acme: Access) -> None:
    crud.create(ctx, acme, RECEIVER, receiver())
    out = customers.route_test(ctx, acme, {"severity": "critical"})
    assert out["receivers"] == ["oncall"]
    assert out["labels"]["customer_id"] == "acme"
    with pytest.raises(Invalid):
        customers.route_test(ctx, acme, {"customer_id": "globex"})


class Answer(io.BytesIO):
    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def test_firing_asks_alertmanager_and_keeps_only_the_customer_s_alerts(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    crud.create(ctx, acme, RECEIVER, receiver())
    with pytest.raises(Unavailable):
        customers.firing(ctx, acme, silenced=True, inhibited=True)
    ctx.settings = ApiSettings(alertmanager_url="http://alertmanager.invalid")
    alerts = [
        {"labels": {"alertname": "B", "customer_id": "acme"}, "fingerprint": "2"},
        {"labels": {"alertname": "A", "customer_id": "acme"}, "fingerprint": "1"},
        {"labels": {"alertname": "C", "customer_id": "globex"}, "fingerprint": "3"},
    ]
    asked: list[str] = []

    def urlopen(url: str, timeout: float) -> Answer:
        asked.append(url)
        return Answer(json.dumps(alerts).encode())

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    names = [a["labels"]["alertname"] for a in customers.firing(ctx, acme, True, True)]
    assert names == ["A", "B"]
    assert "customer_id%3D%22acme%22" in asked[0]
    assert customers.firing_counts(ctx, ["acme", "globex"], None, 1.0) == {"acme": 2, "globex": 1}

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: Answer(b"{}"))
    with pytest.raises(UpstreamFailed, match="unexpected answer"):
        customers.firing_counts(ctx, ["acme"], "acme", 1.0)

"""The firing view reads the Alertmanager cluster (`alertmanager.replicas`): every replica
is asked, the answers merged by fingerprint, a replica down costs nothing, none answering is
UpstreamFailed. tests/integration/test_ha_alertmanager.py has the real cluster."""

from __future__ import annotations

import io
import json
import urllib.error
from typing import Any

import pytest

from alertplane.errors import UpstreamFailed
from alertplane.render.platform import PlatformConfig
from alertplane.service import customers
from alertplane.service.access import Access
from alertplane.service.alertmanagers import alertmanager_urls, merged
from alertplane.service.context import ApiSettings, Context

REPLICAS = PlatformConfig.model_validate(
    {
        "alertmanager": {
            "replicas": [
                {"name": "am-0", "url": "http://am-0"},
                {"name": "am-1", "url": "http://am-1"},
                {"name": "am-2"},  # no URL: nobody to ask
            ]
        }
    }
)


class Answer(io.BytesIO):
    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _alert(name: str, fingerprint: str, state: str = "active") -> dict[str, Any]:
    labels = {"alertname": name, "customer_id": "acme"}
    return {"labels": labels, "fingerprint": fingerprint, "status": {"state": state}}


def _cluster(ctx: Context, monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> list[str]:
    ctx._platform = REPLICAS
    asked: list[str] = []

    def urlopen(url: str, timeout: float) -> Answer:
        base = url.split("/api/", 1)[0]
        asked.append(base)
        answer = answers[base]
        if isinstance(answer, Exception):
            raise answer
        return Answer(json.dumps(answer).encode())

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return asked


def test_every_replica_is_asked_and_the_answers_merged(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    # am-1 just restarted: Prometheus has not re-sent it B yet; both hold A.
    answers = {
        "http://am-0": [_alert("A", "1"), _alert("B", "2", "suppressed")],
        "http://am-1": [_alert("A", "1", "suppressed"), _alert("C", "3")],
    }
    asked = _cluster(ctx, monkeypatch, answers)
    got = customers.firing(ctx, acme, silenced=True, inhibited=True)
    assert sorted(asked) == ["http://am-0", "http://am-1"]
    assert [(a["labels"]["alertname"], a["status"]["state"]) for a in got] == [
        ("A", "active"),  # the first replica in the platform config's order decides
        ("B", "suppressed"),
        ("C", "active"),
    ]
    assert customers.firing_counts(ctx, ["acme"], None, 1.0) == {"acme": 3}


def test_a_replica_down_costs_nothing_and_none_answering_fails(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    answers: dict[str, Any] = {"http://am-0": refused, "http://am-1": [_alert("A", "1")]}
    _cluster(ctx, monkeypatch, answers)
    assert [a["fingerprint"] for a in customers.firing(ctx, acme, True, True)] == ["1"]
    answers["http://am-1"] = {"not": "a list"}
    with pytest.raises(UpstreamFailed, match="did not answer"):  # am-0's error, the first
        customers.firing(ctx, acme, True, True)


def test_the_single_alertmanager_url_wins_and_merging_keeps_the_first() -> None:
    store: Any = None
    single = Context(None, store, ApiSettings(alertmanager_url="http://am"), platform=REPLICAS)
    assert alertmanager_urls(single) == ["http://am"]
    several = Context(None, store, ApiSettings(), platform=REPLICAS)
    assert alertmanager_urls(several) == ["http://am-0", "http://am-1"]
    assert merged([[{"fingerprint": "1", "n": 0}, "odd"], [{"fingerprint": "1", "n": 1}]]) == [
        {"fingerprint": "1", "n": 0},
        "odd",
    ]

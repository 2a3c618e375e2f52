"""The board's pure parts: merging Alertmanager's and Prometheus' alerts into states, the
per-principal build cap, where each customer's Prometheus is asked, and the timeline's
geometry. tests/integration/test_console_board.py has the real Prometheus/Alertmanager."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.errors import Unavailable
from alertplane.render.platform import PlatformConfig
from alertplane.service import board_timeline as tl
from alertplane.service.board import Gate, merge
from alertplane.service.board_sources import targets
from alertplane.service.context import ApiSettings, Context
from alertplane.service.mimir_alerts import MimirAlertmanager
from alertplane.service.tokens import Principal
from alertplane.store.repo import Store


class NoRoutes:
    def prepare(self, customers: set[str]) -> None:
        self.prepared = customers

    def receivers(self, customer: str, labels: dict[str, str]) -> list[str]:
        return [f"routed-{labels['alertname']}"]


def am(name: str, cid: str = "acme", fp: str = "f1", **status: Any) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "customer_id": cid, "severity": "critical", "env": "prod"},
        "annotations": {"summary": f"{name} fires"},
        "startsAt": "2026-12-07T10:00:00.123Z",
        "fingerprint": fp,
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": [], **status},
        "receivers": [{"name": f"{cid}/oncall"}, {"name": "platform-default"}],
    }


def prom(
    name: str, state: str = "firing", cid: str = "acme", value: str = "4.2e+01"
) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "customer_id": cid, "severity": "critical"},
        "annotations": {"summary": f"{name} fires"},
        "state": state,
        "activeAt": "2026-12-07T09:59:00.987654321Z",
        "value": value,
    }


EXPRS = {("acme", "A", "critical"): 'up{customer_id="acme"} == 0'}


def test_states_values_and_receivers() -> None:
    managed = [
        am("A", fp="fa"),  # external label env=prod: matched by subset
        am("S", fp="fs", state="suppressed", silencedBy=["s-1"]),
        am("I", fp="fi", state="suppressed", inhibitedBy=["fa"]),
    ]
    evaluated = [prom("A"), prom("P", state="pending", value="0.5")]
    out = merge(managed, evaluated, EXPRS, NoRoutes())
    assert [(a.alertname, a.state) for a in out] == [
        ("A", "firing"),
        ("P", "pending"),
        ("I", "inhibited"),
        ("S", "silenced"),
    ]
    a, p, i, s = out
    assert (a.value, a.expr, a.fingerprint, a.since) == (
        "42",
        'up{customer_id="acme"} == 0',
        "fa",
        "2026-12-07T10:00:00Z",
    )
    assert a.receivers == ["oncall"]  # the platform's fallback is not named to customers
    assert a.labels == {"env": "prod"} and a.summary == "A fires"
    assert (p.value, p.expr, p.fingerprint, p.receivers) == ("0.5", None, "", ["routed-P"])
    assert p.since == "2026-12-07T09:59:00Z"
    assert s.silenced_by == ["s-1"] and i.inhibited_by == ["fa"] and s.value is None
    # A form names an alert by Alertmanager's fingerprint, a pending one by its labels.
    assert a.key == "fa" and p.key.startswith("p") and len(p.key) == 17
    other = merge([], [prom("P", state="pending", cid="globex")], EXPRS, NoRoutes())[0]
    assert other.key != p.key  # the customer is part of it


def test_identity_is_name_and_severity() -> None:
    """Two alerts of one name and different severities (the pair idiom) are two rows, each
    with its own condition."""
    warn = {**prom("A"), "labels": {**prom("A")["labels"], "severity": "warning"}}
    exprs = {**EXPRS, ("acme", "A", "warning"): 'up{customer_id="acme"} < 1'}
    out = merge([], [prom("A"), warn], exprs, NoRoutes())
    assert sorted((a.severity, a.expr) for a in out) == [
        ("critical", 'up{customer_id="acme"} == 0'),
        ("warning", 'up{customer_id="acme"} < 1'),
    ]


def test_one_alertmanager_alert_matches_one_prometheus_alert() -> None:
    """Two Prometheus alerts with the labels of one Alertmanager alert (two shards during a
    move): the second is not given the same fingerprint."""
    out = merge([am("A", fp="fa")], [prom("A"), prom("A")], EXPRS, NoRoutes())
    assert sorted(a.fingerprint for a in out) == ["", "fa"]


def test_values_that_are_not_numbers() -> None:
    out = merge([], [prom("A", value="NaN"), prom("B", value="junk")], EXPRS, NoRoutes())
    assert [a.value for a in out] == ["nan", None]


def test_gate_caps_boards_per_principal() -> None:
    gate = Gate(limit=2)
    acme, other = Principal("acme-ci", "acme"), Principal("admin", None)
    with gate.enter(acme), gate.enter(acme):
        with pytest.raises(Unavailable) as caught, gate.enter(acme):
            pass
        assert caught.value.detail == (
            "acme-ci is building 2 boards at once already; the board retries on its own"
        )
        with gate.enter(other):  # another principal is not held up
            pass
    with gate.enter(acme), gate.enter(acme):  # released
        pass


def context(store: Store, platform: dict[str, Any], **settings: Any) -> Context:
    return Context(
        None, store, ApiSettings(**settings), platform=PlatformConfig.model_validate(platform)
    )


def test_targets_sharded_unsharded_and_mimir(tmp_path: Any) -> None:
    from alertplane.store.db import open_db

    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    shards = {
        "prometheus": {
            "shards": [{"name": "s1", "url": "http://s1"}, {"name": "s2"}],
            "pins": {"acme": "s1", "globex": "s2"},
        }
    }
    found, missing = targets(context(store, shards), ["acme", "globex"])
    assert [(t.name, t.base, t.customers) for t in found] == [("s1", "http://s1", ("acme",))]
    assert missing == ["shard s2 has no url"]
    found, missing = targets(context(store, {}), ["acme"])
    assert (found, missing) == (
        [],
        ["no Prometheus URL configured (alertplane serve --prometheus-url)"],
    )
    mimir = MimirAlertmanager("http://mimir/")
    found, missing = targets(context(store, {}, mimir=mimir), ["acme", "globex"])
    assert [(t.base, t.customers, t.headers) for t in found] == [
        ("http://mimir/prometheus", ("acme",), {"X-Scope-OrgID": "acme"}),
        ("http://mimir/prometheus", ("globex",), {"X-Scope-OrgID": "globex"}),
    ]


def test_timeline_intervals_union_and_geometry() -> None:
    start, end = 0.0, 3600.0
    step = tl.step_for(1)
    assert step == 15.0
    assert tl.intervals([[0, "1"], [15, "1"], [30, "1"], [90, "1"]], step) == [
        (0.0, 45.0),
        (90.0, 105.0),
    ]
    series = [
        {
            "metric": {"alertname": "A", "severity": "critical", "instance": "x"},
            "values": [[0, "1"], [15, "1"]],
        },
        {
            "metric": {"alertname": "A", "severity": "critical", "instance": "y"},
            "values": [[15, "1"], [30, "1"]],
        },
        {"metric": {"alertname": "B", "severity": ""}, "values": [[3600, "1"]]},  # fires now
    ]
    drawn = tl.timeline(series, 1, start, end)
    assert [r.label for r in drawn.rows] == ["A · critical", "B"]
    (bar,) = drawn.rows[0].bars  # the two instances' spans are one bar
    assert (bar.start, bar.end) == ("00:00", "00:00")
    assert bar.x == tl.LABEL_W and bar.width == pytest.approx(
        (45 / 3600) * (1000 - 220 - 8), abs=0.1
    )
    (now,) = drawn.rows[1].bars
    assert now.width == 2.0 and now.x == pytest.approx(1000 - 8, abs=0.1)
    assert drawn.rows[1].text == "B: firing 01:00–01:00 UTC"
    assert [label for _, label in drawn.ticks] == ["00:15", "00:30", "00:45"]
    many = [{"metric": {"alertname": f"N{i:02}"}, "values": [[0, "1"]]} for i in range(45)]
    assert tl.timeline(many, 1, start, end).more == 5

"""The isolation property of silences, checked by the real Alertmanager 0.25: over random
customers and random matchers (equal, regex, negative, negative regex), a customer's
silence silences exactly that customer's alerts its matchers select, and never another
customer's identical alert (`/api/v2/alerts` status.silencedBy, as Alertmanager itself
decides it). Every customer fires the same alerts; one customer's id is a prefix of
another's (acme, acme-eu)."""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_env import ADMIN, ApiEnv
from tests.support.firing import post_alerts
from tests.support.processes import Alertmanager
from tests.support.silences import silence_env
from tests.support.waiting import eventually

CUSTOMERS = ("acme", "acme-eu", "globex", "initech")
LABELS = {
    "alertname": ("DiskFull", "HighErrorRate"),
    "severity": ("critical", "warning"),
    "team": ("db", "web"),
}
VALUES = [*itertools.chain(*LABELS.values()), "Disk.*", ".*", "critical|warning", "w.+", ""]


def _alerts() -> list[dict[str, Any]]:
    ends = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "labels": {"customer_id": cid, **dict(zip(LABELS, values, strict=True))},
            "annotations": {},
            "endsAt": ends,
        }
        for cid in CUSTOMERS
        for values in itertools.product(*LABELS.values())
    ]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[ApiEnv, Alertmanager]]:
    with silence_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, CUSTOMERS) as (api, am):
        post_alerts(am.url, _alerts())
        eventually(lambda: len(am.alerts()) == len(_alerts()))
        yield api, am


def _matches(matcher: dict[str, Any], labels: dict[str, str]) -> bool:
    """Alertmanager's matcher semantics: regexes are anchored at both ends."""
    value = labels.get(matcher["name"], "")
    if matcher.get("isRegex", False):
        hit = re.fullmatch(matcher["value"], value) is not None
    else:
        hit = value == matcher["value"]
    return hit if matcher.get("isEqual", True) else not hit


def _silenced_by(am: Alertmanager) -> dict[tuple[str, ...], list[str]]:
    with urllib.request.urlopen(f"{am.url}/api/v2/alerts", timeout=10) as resp:
        alerts = json.loads(resp.read())
    return {tuple(sorted(a["labels"].items())): list(a["status"]["silencedBy"]) for a in alerts}


matchers = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(sorted(LABELS)), "value": st.sampled_from(VALUES)},
        optional={"isRegex": st.booleans(), "isEqual": st.booleans()},
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(customer=st.sampled_from(CUSTOMERS), chosen=matchers)
def test_a_silence_never_silences_another_customers_identical_alert(
    env: tuple[ApiEnv, Alertmanager], customer: str, chosen: list[dict[str, Any]]
) -> None:
    api, am = env
    body = {"matchers": chosen, "comment": "property", "duration": "1h"}
    r = api.client.post(f"/customers/{customer}/silences", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        by = _silenced_by(am)
        for labels, silences in by.items():
            labelled = dict(labels)
            expected = labelled["customer_id"] == customer and all(
                _matches(m, labelled) for m in chosen
            )
            assert (sid in silences) == expected, (customer, chosen, labelled, silences)
        # The property is not vacuous for this customer whenever its matchers select any.
        own = [dict(k) for k in by if dict(k)["customer_id"] == customer]
        assert len(own) == 8
    finally:
        gone = api.client.delete(f"/customers/{customer}/silences/{sid}", headers=ADMIN)
        assert gone.status_code == 200, gone.text
    assert all(sid not in s for s in _silenced_by(am).values())


def test_a_match_everything_silence_of_acme_leaves_acme_eu_alone(
    env: tuple[ApiEnv, Alertmanager],
) -> None:
    api, am = env
    body = {
        "matchers": [{"name": "alertname", "value": ".*", "isRegex": True}],
        "comment": "all of acme",
        "duration": "1h",
    }
    sid = api.client.post("/customers/acme/silences", json=body, headers=ADMIN).json()["id"]
    silenced = sorted({dict(k)["customer_id"] for k, v in _silenced_by(am).items() if sid in v})
    counted = sum(sid in v for v in _silenced_by(am).values())
    assert (silenced, counted) == (["acme"], 8)

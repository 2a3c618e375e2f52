"""A Mimir tenant's Alertmanager configuration with the customer's inhibit rules and time
intervals (render/mimir.py, render/am_primitives.py): the real Mimir 3 accepts it as the
tenant's own, and inhibits in that tenant's Alertmanager (its API v2: inhibitedBy)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from alertplane.model import CustomerReceiver
from alertplane.render.mimir import tenant_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_document
from tests.support.factories import receiver
from tests.support.mimir_env import Mimir
from tests.support.waiting import eventually

RULE = {
    "sourceMatch": [{"name": "alertname", "value": "DatabaseDown"}],
    "targetMatch": [{"name": "severity", "value": "warning"}],
    "equal": ["service"],
}
BIZ = {
    "name": "biz",
    "timeIntervals": [{"weekdays": ["monday:friday"], "location": "Europe/Berlin"}],
}


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    with Mimir(tmp_path_factory.mktemp("mimir-amprim")) as m:
        yield m


def _send(mimir: Mimir, tenant: str, path: str, body: bytes, kind: str) -> None:
    req = urllib.request.Request(
        mimir.url + path,
        data=body,
        headers={"X-Scope-OrgID": tenant, "content-type": kind},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status in (200, 201), resp.read()


def test_tenant_config_with_rules_and_intervals_is_accepted_and_inhibits(mimir: Mimir) -> None:
    obj, problems = parse_document(
        receiver(
            "acme", inhibitRules=[RULE], timeIntervals=[BIZ], route={"muteTimeIntervals": ["biz"]}
        )
    )
    assert isinstance(obj, CustomerReceiver), problems
    tenant = tenant_alertmanager("acme", [("acme", obj.spec)], PlatformConfig(), lambda *_: None)
    _send(mimir, "acme", "/api/v1/alerts", tenant.body.encode(), "application/yaml")
    config = mimir.config("acme")
    assert config is not None
    stored = yaml.safe_load(config["alertmanager_config"])
    assert stored["inhibit_rules"][0]["source_matchers"][0] == 'customer_id="acme"'
    assert stored["time_intervals"][0]["name"] == "acme/oncall/biz"

    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = {
        "alertname": "DatabaseDown",
        "severity": "critical",
        "service": "db",
        "customer_id": "acme",
    }
    target = {
        "alertname": "ApiErrors",
        "severity": "warning",
        "service": "db",
        "customer_id": "acme",
    }
    body = json.dumps([{"labels": a, "endsAt": ends} for a in (source, target)]).encode()

    def inhibited() -> dict[str, Any] | None:
        # The tenant's Alertmanager starts on its first configuration: post until it takes them.
        try:
            _send(mimir, "acme", "/alertmanager/api/v2/alerts", body, "application/json")
        except urllib.error.HTTPError:
            return None
        status, text = mimir.get("/alertmanager/api/v2/alerts", "acme")
        if status != 200:
            return None
        found = {a["labels"]["alertname"]: a for a in json.loads(text)}
        return found if found.get("ApiErrors", {}).get("status", {}).get("inhibitedBy") else None

    found = eventually(inhibited, 120)
    assert found["ApiErrors"]["status"]["inhibitedBy"] == [found["DatabaseDown"]["fingerprint"]]

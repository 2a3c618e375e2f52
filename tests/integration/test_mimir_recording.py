"""Recording rules through the Mimir sink (issue 14 §2): each customer's recording rules
reach its own tenant's ruler, in the namespace `alertplane-records`, every rule labelled with
its customer_id, the objects Synced; the ruler records each tenant's series, which an alert
of that tenant reads (Mimir evaluates a minute behind, so the recorded series are asked for
with the query API rather than waited for as alerts)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.integration.test_mimir_sink import Feeder, _status, captures, mimir, running
from tests.support.factories import obj, recording_rule
from tests.support.mimir_env import Mimir
from tests.support.waiting import eventually

__all__ = ["captures", "mimir", "running"]  # fixtures
RECORD = "service:errors:sum"


def _expr(customer: str) -> str:
    return f'sum by (service) (errors_total{{customer_id="{customer}"}})'


def _recorded(mimir: Mimir, tenant: str) -> list[dict[str, str]]:
    query = urllib.parse.urlencode({"query": RECORD})
    status, text = mimir.get(f"/prometheus/api/v1/query?{query}", tenant)
    assert status == 200, text
    return [r["metric"] for r in json.loads(text)["data"]["result"]]


@pytest.fixture
def fed(mimir: Mimir) -> Iterator[None]:
    with Feeder(mimir, ("acme", "globex")):
        yield


def test_each_tenant_records_its_own_series(mimir: Mimir, running: object, fed: None) -> None:
    store, _ = running  # type: ignore[misc]
    store.apply(
        [
            obj(recording_rule("acme", RECORD, expr=_expr("acme"), labels={"team": "web"})),
            obj(recording_rule("globex", RECORD, expr=_expr("globex"))),
        ],
        "t",
        "cli",
    )
    for name in ("acme-service-errors-sum", "globex-service-errors-sum"):
        eventually(lambda n=name: _status(store, n).get("phase") == "Synced", timeout=90)
    for tenant, labels in (
        ("acme", {"customer_id": "acme", "team": "web"}),
        ("globex", {"customer_id": "globex"}),
    ):
        groups = {g["name"]: g for g in mimir.rules(tenant)}
        group = groups[f"{tenant}-records"]
        assert group["file"] == "alertplane-records"
        ((rule,),) = [group["rules"]]
        assert (rule["type"], rule["name"], rule["labels"]) == ("recording", RECORD, labels)
    # The ruler writes each tenant's recorded series into that tenant only.
    acme = eventually(lambda: _recorded(mimir, "acme"), timeout=120)
    assert acme == [{"__name__": RECORD, "customer_id": "acme", "service": "api", "team": "web"}]
    globex = eventually(lambda: _recorded(mimir, "globex"), timeout=120)
    assert globex == [{"__name__": RECORD, "customer_id": "globex", "service": "api"}]

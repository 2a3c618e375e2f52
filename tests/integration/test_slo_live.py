"""CustomerSLOs on the real stack (`make run`'s: Prometheus 2.42, Alertmanager 0.25, the demo
exporter, `alertplane serve`), written through the REST API: the demo fails 10 % of acme's
checkout requests (100× a 0.1 % budget) and 0.05 % of globex's dispatch requests (0.5×).
Both customers have an SLO named `checkout`. Prometheus records each customer's ratio from
its own series only, every `slo:` series carries its customer_id, acme's page alert fires
and reaches Alertmanager as acme's, globex's never does."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import console_stack
from tests.support.slo import slo_spec

FIRING_S = 180.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("slo-live")) as found:
        yield found


def _post(stack: LocalStack, customer: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{stack.serve.url}/customers/{customer}/slos?wait=true",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {stack.tokens['admin']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return dict(json.load(resp))


def _events(customer: str, service: str) -> dict[str, Any]:
    sel = f'app_http_requests_total{{customer_id="{customer}", service="{service}"'
    window = "[{{.window}}]"
    return {
        "events": {
            "errorQuery": f'sum(rate({sel}, code="500"}}{window}))',
            "totalQuery": f"sum(rate({sel}}}{window}))",
        }
    }


def eventually(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"not within {timeout}s")


def test_slos_record_and_page_per_customer(stack: LocalStack) -> None:
    alerting = {"pageAlertName": "CheckoutBudgetBurn", "ticketAlertName": "CheckoutBudgetBurn"}
    for customer, service in (("acme", "checkout"), ("globex", "dispatch")):
        out = _post(
            stack, customer, slo_spec(customer, sli=_events(customer, service), alerting=alerting)
        )
        assert out["status"]["phase"] == "Synced", out["status"]
    prom = stack.prometheus

    def ratios() -> dict[str, float]:
        found = prom.query("slo:sli_error:ratio_rate5m")
        return {r["metric"]["customer_id"]: float(r["value"][1]) for r in found}

    seen = eventually(lambda: (r := ratios()) and len(r) == 2 and r, 120)
    assert abs(seen["acme"] - 0.10) < 0.01, seen
    assert seen["globex"] < 0.001, seen  # 0.05 %: never acme's 10 %
    assert prom.query('{__name__=~"slo:.+", customer_id=""}') == []
    by_customer = prom.query('count by (customer_id) ({__name__=~"slo:.+"})')
    assert {r["metric"]["customer_id"] for r in by_customer} == {"acme", "globex"}

    def paged() -> list[dict[str, Any]]:
        return [
            a
            for a in stack.alertmanager.alerts()
            if a["labels"].get("alertname") == "CheckoutBudgetBurn"
            and a["labels"].get("slo_severity") == "page"
        ]

    (alert,) = eventually(paged, FIRING_S)
    assert alert["labels"]["customer_id"] == "acme"
    assert alert["annotations"]["burn_rate_thresholds"].startswith("14.4× over 1h and 5m")
    # globex burns at 0.5×: none of its alerts fire, in Prometheus or Alertmanager.
    assert not [
        a
        for a in prom.alerts()
        if a["labels"].get("customer_id") == "globex" and a["labels"].get("slo")
    ]

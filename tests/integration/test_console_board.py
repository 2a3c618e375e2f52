"""The live alert board (console/board.py over service/board.py) against a real Prometheus
2.42 and a real Alertmanager 0.25: states from both, conditions from the store, routing,
the timeline from ALERTS, and the scoping of every part to the caller's customers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.render.yamlout import dump
from alertplane.stack.processes import Alertmanager, Prometheus
from tests.support.api_env import ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, ApiEnv
from tests.support.browser import PromptPrometheus
from tests.support.console import C, assert_page, client, env, examples
from tests.support.firing import firing, post_alerts
from tests.support.waiting import eventually

__all__ = ["env", "examples"]  # fixtures (tests/support/console.py)


def rule(
    name: str, customer: str, severity: str, expr: str = "vector(1)", wait: str = "0s"
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": wait,
        "labels": {"customer_id": customer, "severity": severity},
        "annotations": {"summary": f"{name} of {customer}"},
    }


# Rules evaluated by the real Prometheus (not through alertplane: the board reads what
# any Prometheus evaluates). HighErrorRate and QueueBacklog match stored alerts' identity.
RULES = [
    rule("HighErrorRate", "acme", "critical", "vector(42.5)"),
    rule("SlowResponses", "acme", "warning", wait="1h"),  # pending for an hour
    rule("QueueBacklog", "globex", "warning", "vector(7)"),
    rule("LookAlike", "acme-eu", "critical"),  # a prefix of acme is not acme
]


@pytest.fixture
def live(examples: ApiEnv, tmp_path: Path) -> Iterator[tuple[ApiEnv, Prometheus, Alertmanager]]:
    rules = tmp_path / "board-rules"
    rules.mkdir()
    (rules / "board.yml").write_text(dump({"groups": [{"name": "board", "rules": RULES}]}))
    with (
        Alertmanager(examples.out / "alertmanager.yml") as am,
        PromptPrometheus(rules, alertmanager_url=am.url) as prom,
    ):
        examples.reconciler.settings.alertmanager_url = am.url
        examples.reconciler.settings.prometheus_url = prom.url
        eventually(lambda: len(prom.alerts()) == 4, timeout=60)
        yield examples, prom, am


def rows(page: str) -> list[tuple[str, str]]:
    """(alert name, state) of each row, in order."""
    return re.findall(r'<tr data-state="(\w+)" data-fingerprint="[^"]*" data-alert="([^"]+)"', page)


def test_board_states_values_conditions_and_routes(live: Any) -> None:
    env, _, am = live
    acme = client(env, ACME_TOKEN)
    # Straight to Alertmanager too: an alert no Prometheus of ours evaluates still shows.
    post_alerts(am.url, firing([("acme", "TargetDown"), ("globex", "ErrorBudgetBurn")]))

    def settled() -> str | None:
        page = assert_page(acme.get(f"{C}/customers/acme/fragments/board"))
        found = sorted((a, s) for s, a in rows(page))
        want = [("HighErrorRate", "firing"), ("SlowResponses", "pending"), ("TargetDown", "firing")]
        # Firing ones once Alertmanager has them too (they can be silenced then).
        return page if found == want and page.count("silence-form") == 2 else None

    page = eventually(settled, timeout=60)
    assert "globex" not in page and "acme-eu" not in page and "LookAlike" not in page
    high = page[page.index('data-alert="HighErrorRate"') :].split("</tr>")[0]
    assert 'app_http_requests_total{customer_id="acme", code=~"5.."}' in high.replace("&#34;", '"')
    assert '<strong class="value">42.5</strong>' in high
    assert "oncall" in high  # acme's critical route (examples/customers/acme.yaml)
    slow = page[page.index('data-alert="SlowResponses"') :].split("</tr>")[0]
    assert "silence once firing" in slow and '<strong class="value">1</strong>' in slow
    assert re.search(r'data-count="pending">1<', page)
    assert re.search(r'data-count="firing">2<', page)


def test_admin_board_every_customer_and_filters(live: Any) -> None:
    env, _, _ = live
    admin = client(env, ADMIN_TOKEN)

    def ready() -> str | None:
        page = assert_page(admin.get(f"{C}/fragments/board"))
        return page if len(rows(page)) == 3 else None

    page = eventually(ready, timeout=60)
    # acme-eu has no objects: not a customer anyone sees, so not on the board.
    assert sorted(a for _, a in rows(page)) == ["HighErrorRate", "QueueBacklog", "SlowResponses"]
    full = assert_page(admin.get(f"{C}/board?state=pending"))
    assert [a for _, a in rows(full)] == ["SlowResponses"]
    assert 'data-board-url="/console/fragments/board?state=pending"' in full
    one = assert_page(admin.get(f"{C}/board?customer=globex"))
    assert [a for _, a in rows(one)] == ["QueueBacklog"]
    # A customer token's "all customers" board is its own, whatever it asks for.
    globex = client(env, GLOBEX_TOKEN)
    page = assert_page(globex.get(f"{C}/fragments/board?customer=acme"))
    assert [a for _, a in rows(page)] == ["QueueBacklog"]


def test_customer_board_scoping(live: Any) -> None:
    env, _, _ = live
    acme = client(env, ACME_TOKEN)
    for path in ("board", "fragments/board", "fragments/timeline?hours=1"):
        r = acme.get(f"{C}/customers/globex/{path}")
        assert r.status_code == 404, path
        assert "globex" not in r.text.replace("/customers/globex", "")


def test_timeline_from_alerts_series(live: Any) -> None:
    env, _, _ = live
    acme = client(env, ACME_TOKEN)

    def drawn() -> str | None:
        page = assert_page(acme.get(f"{C}/customers/acme/fragments/timeline?hours=1"))
        return page if 'data-alert="HighErrorRate · critical"' in page else None

    page = eventually(drawn, timeout=60)
    assert "<svg" in page and 'class="bar"' in page
    # Pending alerts are not firing; other customers' series are never asked for.
    assert "SlowResponses" not in page and "QueueBacklog" not in page and "LookAlike" not in page
    full = assert_page(acme.get(f"{C}/customers/acme/board?hours=3"))
    assert "Firing over the last 3 hours" in full and "<svg" in full


def test_sources_down_are_said(examples: ApiEnv) -> None:
    acme = client(examples, ACME_TOKEN)
    page = assert_page(acme.get(f"{C}/customers/acme/board"))
    assert "Alertmanager not configured: firing, silenced and inhibited unknown" in page
    assert "no Prometheus URL configured (alertplane serve --prometheus-url)" in page
    assert "the timeline is not available" in page

"""The console's SLO pages through FastAPI's TestClient: the list, the form with the core's
messages on their fields (nothing stored), create, edit without losing a field, disable
through the form, delete; another customer's token gets 404."""

from __future__ import annotations

from tests.support.api_env import ACME, ACME_TOKEN, GLOBEX_TOKEN, ApiEnv
from tests.support.console import (
    C,
    assert_page,
    client,
    env,
    field_errors,
    phases,
    post,
)
from tests.support.slo import ERRORS, TOTAL
from tests.support.waiting import eventually

__all__ = ["env"]  # fixtures
BASE = f"{C}/customers/acme"
NEW = f"{BASE}/new-slo"


def slo_form(**over: str) -> dict[str, str]:
    form = {
        "sloName": "checkout",
        "description": "Checkout requests succeed",
        "objective": "99.9",
        "period": "30d",
        "errorQuery": ERRORS.format(c="acme"),
        "goodQuery": "",
        "totalQuery": TOTAL.format(c="acme"),
        "pageAlertName": "CheckoutBudgetBurn",
        "ticketAlertName": "CheckoutBudgetBurn",
        "category": "application",
        "labels": "team=shop",
        "summary": "",
        "runbookUrl": "https://runbooks.example.com/checkout",
        "annotations": "",
        "enabled": "on",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_list_form_create_edit_delete(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(f"{BASE}/slos"))
    assert "No SLOs yet" in page and f'href="{NEW}"' in page
    page = assert_page(c.get(NEW))
    for field in ("sloName", "objective", "period", "errorQuery", "totalQuery", "pageAlertName"):
        assert f'<label for="f-{field}">' in page  # every input has a label
    assert "[{{.window}}]" in page  # the placeholder is explained

    # The core's messages, each on its field; nothing stored.
    bad = slo_form(period="1d", totalQuery='sum(rate(t{customer_id="globex"}[{{.window}}]))')
    page = assert_page(post(c, NEW, NEW, bad), 422)
    assert field_errors(page, "period") == [
        "spec.period: period '1d' is outside 7d to 90d; the slowest alert reads 3d and the "
        "period's ratio averages every 5m ratio in it: use 7d to 90d (30d is the SRE "
        "workbook's)"
    ]
    assert field_errors(page, "totalQuery") == [
        'spec.sli.events.totalQuery: selector t{customer_id="globex"} selects customer '
        '"globex"; an alert of customer acme may only select customer_id="acme"'
    ]
    page = assert_page(post(c, NEW, NEW, slo_form(goodQuery="sum(rate(g[{{.window}}]))")), 422)
    assert field_errors(page, "errorQuery") == [
        "spec.sli.events: give exactly one of errorQuery and goodQuery; errorQuery counts "
        "failed events, goodQuery successful ones; both are divided by totalQuery"
    ]
    page = assert_page(post(c, NEW, NEW, slo_form(labels="slo_window=5m")), 422)
    assert field_errors(page, "labels") == [
        "spec.alerting.labels.slo_window: label 'slo_window' is set by alertplane; remove it; "
        "alertplane sets it to each rule's window"
    ]
    assert env.store.get() == []

    r = post(c, NEW, NEW, slo_form())
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{BASE}/slos?notice=slo-created&what=checkout"
    eventually(lambda: phases(c.get(f"{BASE}/slos").text) == ["Synced"])
    page = assert_page(c.get(r.headers["location"]))
    assert "SLO checkout created." in page and "0.1% over 30d" in page

    # Edit: every field comes back as stored; a change keeps the others.
    one = f"{BASE}/slos/checkout"
    page = assert_page(c.get(one))
    assert 'value="https://runbooks.example.com/checkout"' in page and "team=shop" in page
    r = post(c, one, one, slo_form(objective="99.5", enabled=""))
    assert r.status_code == 303, r.text
    stored = env.client.get("/customers/acme/slos/checkout", headers=ACME).json()
    assert stored["spec"]["objective"] == 99.5 and stored["spec"]["enabled"] is False
    assert stored["spec"]["alerting"]["annotations"] == {
        "runbookUrl": "https://runbooks.example.com/checkout"
    }
    eventually(lambda: phases(c.get(f"{BASE}/slos").text) == ["Disabled"])

    # Another customer's token: the page and the form do not exist for it.
    other = client(env, GLOBEX_TOKEN)
    assert other.get(f"{BASE}/slos").status_code == 404
    assert other.get(one).status_code == 404

    r = post(c, one, f"{one}/delete", {})
    assert r.status_code == 303
    assert r.headers["location"] == f"{BASE}/slos?notice=slo-deleted&what=checkout"
    assert env.store.get() == []

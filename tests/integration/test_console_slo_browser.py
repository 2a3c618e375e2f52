"""The console's SLO page in a real browser (Debian's Chromium, driven by Playwright) against
a real `alertplane serve` with Prometheus and Alertmanager: acme's token opens the SLOs tab,
creates an SLO with a mistake (the core's message on its field, focus on the problems),
fixes it, watches it reach Synced; the demo exporter fails 10% of acme's checkout requests
(100× the 0.1% budget), so the SLO's page alert fires in the real Prometheus and shows on
the Firing tab — for acme only. Then the SLO is deleted with the keyboard."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import VIEWPORT, chromium, console_stack, screenshot, sign_in

SLOW_MS = 60_000
FIRING_S = 150.0  # reloads, then the first evaluations of the real Prometheus
NAME, ALERT = "checkout", "CheckoutBudgetBurn"
QUERY = (
    'sum(rate(app_http_requests_total{{customer_id="acme", service="checkout"{bad}}}'
    "[{{{{.window}}}}]))"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("slo-stack")) as found:
        yield found


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        found = context.new_page()
        errors: list[str] = []
        found.on("pageerror", lambda exc: errors.append(str(exc)))
        yield found
        screenshot(found, f"last-{request.node.name}")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def eventually(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s")


def firing(stack: LocalStack) -> list[dict[str, Any]]:
    return [
        a
        for a in stack.prometheus.alerts()
        if a["labels"].get("alertname") == ALERT and a["state"] == "firing"
    ]


def test_slo_page_create_fire_delete(page: Any, stack: LocalStack) -> None:
    url = stack.serve.url
    sign_in(page, url, stack.tokens["acme"])
    page.goto(f"{url}/console/customers/acme")
    nav = page.get_by_role("navigation", name="Customer sections")
    nav.get_by_role("link", name="SLOs").click()
    assert page.get_by_role("heading", name="No SLOs yet").is_visible()
    page.get_by_role("link", name="New SLO").click()

    page.get_by_label("SLO name").fill(NAME)
    page.get_by_label("Objective (%)").fill("99.9")
    # The error query without the tenant matcher: refused, on its field.
    page.get_by_label("Failed events").fill(
        QUERY.format(bad=', code="500"').replace('customer_id="acme", ', "")
    )
    page.get_by_label("All events").fill(QUERY.format(bad=""))
    page.get_by_label("Page alert name").fill(ALERT)
    page.get_by_label("Ticket alert name").fill(ALERT)
    page.get_by_label("Extra labels").fill("team=shop")
    page.get_by_role("button", name="Create SLO").click()

    field = page.locator("#f-errorQuery")
    assert field.get_attribute("aria-invalid") == "true"
    (error_id,) = [i for i in field.get_attribute("aria-describedby").split() if i.startswith("e-")]
    assert page.locator(f"#{error_id}").inner_text() == (
        'spec.sli.events.errorQuery: selector app_http_requests_total{service="checkout",'
        'code="500"} has no customer_id="acme" matcher; add customer_id="acme" inside its braces'
    )
    assert page.evaluate("document.activeElement.id") == "problems"
    assert page.get_by_label("SLO name").input_value() == NAME  # what was typed stays
    screenshot(page, "acme-slo-form-error")

    # Fixed with the checkbox that adds the matcher (autoInject).
    page.get_by_label('Add customer_id="acme" where a selector lacks it').check()
    page.get_by_role("button", name="Create SLO").click()
    page.wait_for_url(re.compile(r".*/slos\?notice=slo-created.*"))
    assert page.get_by_role("status").inner_text() == f"SLO {NAME} created."
    row = page.locator(f'tr[data-slo="{NAME}"]')
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)
    assert "0.1% over 30d" in row.inner_text()
    groups = {r["group"] for r in stack.prometheus.rules()}
    assert "acme-slo-checkout" in groups
    screenshot(page, "acme-slos")

    # 10% of acme's checkout requests fail: 100× the budget, so the page alert fires.
    # (100× is above the ticket's 3× too: both fire.)
    pages = eventually(
        lambda: [a for a in firing(stack) if a["labels"]["slo_severity"] == "page"], FIRING_S
    )
    assert len(pages) == 1, pages
    alert = pages[0]
    assert alert["labels"]["customer_id"] == "acme" and alert["labels"]["team"] == "shop"
    assert alert["annotations"]["objective"] == "99.9%"
    nav.get_by_role("link", name="Firing").click()
    page.get_by_text(ALERT).first.wait_for(timeout=SLOW_MS)
    screenshot(page, "acme-slo-firing")

    # Delete from the SLO's own page, with the keyboard; the rules leave Prometheus.
    nav.get_by_role("link", name="SLOs").click()
    page.get_by_role("link", name=NAME, exact=True).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete SLO").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*notice=slo-deleted.*"))
    assert page.get_by_role("heading", name="No SLOs yet").is_visible()
    eventually(
        lambda: "acme-slo-checkout" not in {r["group"] for r in stack.prometheus.rules()}, 60
    )

"""The receiver form's time intervals, mute names and inhibit rules in Chromium (Debian's,
through Playwright) on the local stack: a customer token types them, a mistake is shown on
its field, the fix is Synced and the real Alertmanager runs the customer's scoped names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import VIEWPORT, chromium, console_stack, screenshot, sign_in
from tests.support.waiting import eventually

SLOW_MS = 60_000
INTERVALS = """- name: business-hours
  timeIntervals:
  - times: [{startTime: "09:00", endTime: "17:00"}]
    weekdays: ["monday:friday"]
    location: Europe/Berlin
"""
RULES = """- sourceMatch: [{name: alertname, value: DatabaseDown}]
  targetMatch: [{name: severity, value: warning}]
  equal: [service]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("console-amprim")) as found:
        yield found


@pytest.fixture
def page(stack: LocalStack) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        found = context.new_page()
        errors: list[str] = []
        found.on("pageerror", lambda exc: errors.append(str(exc)))
        yield found
        screenshot(found, "last-am-primitives")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def test_customer_types_intervals_and_rules(page: Any, stack: LocalStack) -> None:
    base = stack.serve.url
    sign_in(page, base, stack.tokens["acme"])
    page.goto(f"{base}/console/customers/acme/new-receiver")
    page.get_by_label("Receiver name").fill("hours")
    page.locator("#f-webhook-0-url").fill("https://hooks.acme.example/hours")
    page.get_by_label("Time intervals", exact=True).fill(INTERVALS)
    page.get_by_label("Inhibit rules", exact=True).fill(RULES)
    page.get_by_label("Mute during").fill("weekend")  # not declared
    page.get_by_role("button", name="Create receiver").click()

    field = page.locator("#f-route-muteTimeIntervals")
    assert field.get_attribute("aria-invalid") == "true"
    (error_id,) = [i for i in field.get_attribute("aria-describedby").split() if i[:2] == "e-"]
    assert page.locator(f"#{error_id}").inner_text() == (
        "spec.route.muteTimeIntervals[0]: unknown time interval 'weekend'; name one of this "
        "receiver's spec.timeIntervals (declared: business-hours)"
    )
    assert (
        page.get_by_label("Time intervals", exact=True).input_value().strip() == INTERVALS.strip()
    )
    screenshot(page, "acme-receiver-intervals-error")

    field.fill("")
    page.get_by_label("Active only during").fill("business-hours")
    page.get_by_label("Active only during").press("Enter")  # the keyboard submits
    page.wait_for_url(re.compile(r".*notice=receiver-created.*"))
    row = page.locator('tr[data-receiver="hours"]')
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)

    def running() -> bool:
        original = stack.alertmanager.status()["config"]["original"]
        return "acme/hours/business-hours" in original and 'customer_id="acme"' in original

    eventually(running, 60)
    original = stack.alertmanager.status()["config"]["original"]
    assert "active_time_intervals:\n      - acme/hours/business-hours" in original
    assert '- alertname="DatabaseDown"' in original

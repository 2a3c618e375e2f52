"""The console's recording rule pages in a real browser (Debian's Chromium, Playwright)
against a real `alertplane serve` with Prometheus (issue 14 §2): a customer's token creates
a recording rule with two mistakes and sees each message on its field, fixes them, watches
it reach Synced and Prometheus record acme's series with customer_id, disables it with the
form, deletes it — and never sees another customer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import VIEWPORT, chromium, console_stack, screenshot, sign_in

SLOW_MS = 60_000
RECORD = "service:app_http_errors:ratio_rate1m"
EXPR = (
    'sum by (service) (rate(app_http_requests_total{customer_id="acme", code="500"}[1m]))\n'
    '/ sum by (service) (rate(app_http_requests_total{customer_id="acme"}[1m]))'
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("console-records")) as found:
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
        screenshot(found, "last-records-browser")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def _field_error(page: Any, field: str) -> str:
    box = page.locator(f"#f-{field}")
    assert box.get_attribute("aria-invalid") == "true"
    ids = [i for i in (box.get_attribute("aria-describedby") or "").split() if i.startswith("e-")]
    return " ".join(page.locator(f"#{i}").inner_text() for i in ids)


def _recorded(stack: LocalStack) -> list[dict[str, str]]:
    return [r["metric"] for r in stack.prometheus.query(RECORD)]


def _loaded(stack: LocalStack) -> list[dict[str, Any]]:
    return [r for r in stack.prometheus.rules() if r["name"] == RECORD]


def test_a_customer_manages_its_recording_rules(page: Any, stack: LocalStack) -> None:
    url = stack.serve.url
    sign_in(page, url, stack.tokens["acme"])
    seen = []
    page.goto(f"{url}/console/customers/acme")
    nav = page.get_by_role("navigation", name="Customer sections")
    nav.get_by_role("link", name="Recording rules").click()
    assert page.get_by_role("heading", name="No recording rules yet").is_visible()
    page.get_by_role("link", name="New recording rule").click()

    page.get_by_label("Record").fill("app_http_errors_ratio")
    page.get_by_label("Expression (PromQL)").fill("sum(rate(app_http_requests_total[1m]))")
    page.get_by_role("button", name="Create recording rule").click()
    assert _field_error(page, "record") == (
        "spec.record: 'app_http_errors_ratio' has no ':': a recorded series must not take the "
        "name of a scraped metric; name it level:metric:operations with letters, digits, '_' "
        "and ':', e.g. 'job:http_requests:rate5m'"
    )
    assert page.evaluate("document.activeElement.id") == "problems"
    assert page.get_by_label("Record").input_value() == "app_http_errors_ratio"  # kept
    screenshot(page, "acme-record-form-error")
    page.get_by_label("Record").fill(RECORD)
    page.get_by_role("button", name="Create recording rule").click()
    assert _field_error(page, "expr") == (
        'spec.expr: selector app_http_requests_total{} has no customer_id="acme" matcher; '
        'add customer_id="acme" inside its braces'
    )
    page.get_by_label("Expression (PromQL)").fill(EXPR)
    page.get_by_label("Labels").fill("team=web")
    page.get_by_role("button", name="Create recording rule").click()
    page.wait_for_url(re.compile(r".*notice=record-created.*"))
    assert page.get_by_role("status").inner_text() == f"Recording rule {RECORD} created."
    row = page.locator(f'tr[data-record="{RECORD}"]')
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)  # the table refreshes
    assert row.locator("td").first.inner_text() == "team=web"
    seen.append(page.content())
    screenshot(page, "acme-recording-rules")
    ((rule,),) = [_loaded(stack)]
    assert (rule["type"], rule["labels"]) == ("recording", {"customer_id": "acme", "team": "web"})
    _wait(lambda: {m["service"] for m in _recorded(stack)} == {"checkout", "search"})
    assert {m["customer_id"] for m in _recorded(stack)} == {"acme"}

    row.get_by_role("link", name=RECORD).click()
    assert page.get_by_label("Record").get_attribute("readonly") is not None
    page.get_by_label("Enabled").uncheck()
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r".*notice=record-saved.*"))
    page.locator(f'tr[data-record="{RECORD}"] [data-phase="Disabled"]').wait_for(timeout=SLOW_MS)
    _wait(lambda: not _loaded(stack))

    page.locator(f'tr[data-record="{RECORD}"]').get_by_role("link", name=RECORD).click()
    seen.append(page.content())
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete recording rule").click()
    page.wait_for_url(re.compile(r".*notice=record-deleted.*"))
    assert page.get_by_role("heading", name="No recording rules yet").is_visible()
    for body in seen:
        assert "globex" not in body.lower() and "initech" not in body.lower()
    response = page.goto(f"{url}/console/customers/globex/recordingrules")
    assert response is not None and response.status == 404


def _wait(check: Any, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.25)

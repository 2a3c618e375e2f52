"""The web console in a real browser (Debian's Chromium, driven by Playwright) against a real
`alertplane serve` with Prometheus and Alertmanager: sign in, create an alert with a
mistake and see the message, fix it, watch it reach Synced, toggle it, roll it back,
preview a template, ask who gets an alert, create a receiver with a mistake, fix it, watch
it reach Alertmanager, delete it, watch alerts fire — as an admin, and as a customer's
token that must never see another customer."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import (
    VIEWPORT,
    chromium,
    console_stack,
    screenshot,
    sign_in,
)

SLOW_MS = 60_000
FIRING_MS = 90_000  # reloads and the first evaluations of the real Prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("console-stack")) as found:
        yield found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    found = context.new_page()
    errors: list[str] = []
    found.on("pageerror", lambda exc: errors.append(str(exc)))
    yield found
    screenshot(found, f"last-{request.node.name}")  # where a failing test stopped
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def base(stack: LocalStack) -> str:
    return stack.serve.url


def eventually(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout}s")


def live_rule(stack: LocalStack, name: str) -> bool:
    return any(r["name"] == name for r in stack.prometheus.rules())


def tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Customer sections").get_by_role("link", name=name).click()


def alert_lifecycle(page: Any, stack: LocalStack, who: str, name: str) -> None:
    """Create with a mistake, fix, Synced, toggle with the keyboard, roll back."""
    url = base(stack)
    page.goto(f"{url}/console/customers/acme")
    page.get_by_role("link", name="New alert").click()
    page.get_by_label("Alert name").fill(name)
    page.get_by_label("Severity").select_option("warning")
    page.get_by_label("Category").select_option("infrastructure")
    page.get_by_label("Expression (PromQL)").fill("node_cpu_busy_ratio > 0.9")
    page.get_by_label("For", exact=True).fill("1m")
    page.get_by_label("Summary").fill("{{ $labels.instance }} is busy")
    page.get_by_role("button", name="Create alert").click()

    # The core's message, next to the field it is about, and the keyboard taken there.
    expr = page.locator("#f-expr")
    assert expr.get_attribute("aria-invalid") == "true"
    (error_id,) = [i for i in expr.get_attribute("aria-describedby").split() if i.startswith("e-")]
    message = page.locator(f"#{error_id}").inner_text()
    assert message == (
        'spec.expr: selector node_cpu_busy_ratio{} has no customer_id="acme" matcher; '
        'add customer_id="acme" inside its braces'
    )
    assert page.evaluate("document.activeElement.id") == "problems"
    assert page.get_by_label("Alert name").input_value() == name  # what was typed stays
    screenshot(page, f"{who}-alert-form-error")

    expr.fill('node_cpu_busy_ratio{customer_id="acme"} > 0.9')
    page.get_by_role("button", name="Create alert").click()
    page.wait_for_url(re.compile(r".*notice=created.*"))
    assert page.get_by_role("status").inner_text() == f"Alert {name} created."
    row = page.locator(f'tr[data-alert="{name}"]')
    # Pending until Prometheus answered the reload; the table refreshes itself.
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)
    assert live_rule(stack, name)

    switch = page.get_by_role("switch", name=f"Enabled: {name}")
    assert switch.get_attribute("aria-checked") == "true"
    switch.focus()
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r".*notice=disabled.*"))
    row = page.locator(f'tr[data-alert="{name}"]')
    assert "is-disabled" in (row.get_attribute("class") or "")
    assert row.get_by_role("switch").get_attribute("aria-checked") == "false"
    row.locator('[data-phase="Disabled"]').wait_for(timeout=SLOW_MS)
    screenshot(page, f"{who}-alerts-disabled")
    eventually(lambda: not live_rule(stack, name))

    tab(page, "Audit")
    entry = page.locator("li.entry").filter(has_text=f"alert {name}").first
    text = entry.inner_text()
    assert "DISABLE" in text and f"by {who} via console" in text
    assert entry.locator(".d-add").filter(has_text="enabled: false").count() == 1
    screenshot(page, f"{who}-audit")
    page.once("dialog", lambda dialog: dialog.accept())  # "Roll ... back to version 1?"
    entries = page.locator("li.entry").filter(has_text=f"alert {name}")
    entries.get_by_role("button", name="Roll back to version 1").click()
    page.wait_for_url(re.compile(r".*notice=rolledback.*"))
    assert "rolled back" in page.get_by_role("status").inner_text()
    assert page.locator("li.entry").first.locator(".action").inner_text() == "ROLLBACK"
    tab(page, "Alerts")
    row = page.locator(f'tr[data-alert="{name}"]')
    assert row.get_by_role("switch").get_attribute("aria-checked") == "true"
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)
    eventually(lambda: live_rule(stack, name))


def preview_and_routing(page: Any, who: str) -> None:
    tab(page, "Template preview")
    page.get_by_label("Sample from alert").select_option("HighErrorRate")
    page.get_by_role("button", name="Use this alert").click()
    assert "alertname=HighErrorRate" in page.get_by_label("Sample labels").input_value()
    page.get_by_label("Sample labels").fill(
        "alertname=HighErrorRate\nseverity=critical\nservice=checkout"
    )
    page.get_by_label("Sample annotations").fill("summary=checkout: 10% of requests fail")
    page.get_by_label("E-mail configuration").select_option("team:0")
    page.get_by_role("button", name="Render preview").click()
    subject = page.locator('[data-part="subjectTemplate"] pre.rendered')
    assert subject.inner_text() == "[acme][FIRING] HighErrorRate (1)"
    frame = page.frame_locator("iframe.html-preview")
    assert frame.locator("h1").inner_text() == "HighErrorRate"
    page.locator("iframe.html-preview").scroll_into_view_if_needed()  # painted for the shot
    screenshot(page, f"{who}-preview")

    tab(page, "Receivers & routing")
    address = page.url
    page.get_by_label("severity").select_option("critical")
    page.get_by_role("button", name="Test routing").click()
    reached = page.locator("#route-test-result ol.reached li")
    reached.first.wait_for()
    assert reached.all_inner_texts() == ["oncall", "team"]
    assert page.url == address  # answered in place by console.js, no page load
    screenshot(page, f"{who}-receivers")


def receiver_generation(stack: LocalStack, token: str, name: str) -> int:
    request = urllib.request.Request(
        f"{base(stack)}/customers/acme/receivers/{name}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return int(json.load(resp)["metadata"]["generation"])


def in_alertmanager(stack: LocalStack, receiver: str) -> bool:
    return f"acme/{receiver}" in stack.alertmanager.status()["config"]["original"]


def receiver_lifecycle(page: Any, stack: LocalStack, who: str, token: str) -> None:
    """Create a receiver with a mistake, fix it, Synced (in Alertmanager), save one
    unchanged (the real form loses nothing), delete it."""
    name, secret = f"pager-{who}", "https://hooks.slack.com/services/T0/B0/browser-secret"
    tab(page, "Receivers & routing")
    page.get_by_role("link", name="New receiver").click()
    page.get_by_label("Receiver name").fill(name)
    page.locator("#f-webhook-0-url").fill("hooks.acme.example/alerts")  # no scheme
    page.locator("#f-slack-0-apiURL").fill(secret)
    page.locator("#f-slack-0-channel").fill("#pager")
    page.locator('input[name="route-severity-critical"]').check()
    page.locator("#f-route-priority").fill("50")
    page.locator("#f-route-priority").press("Enter")  # the keyboard submits

    url_field = page.locator("#f-webhook-0-url")
    assert url_field.get_attribute("aria-invalid") == "true"
    (error_id,) = [i for i in url_field.get_attribute("aria-describedby").split() if i[:2] == "e-"]
    assert page.locator(f"#{error_id}").inner_text() == (
        "spec.webhook[0].url: 'hooks.acme.example/alerts' is not an http(s) URL; give an "
        "absolute URL such as https://hooks.example.com/alerts"
    )
    assert page.evaluate("document.activeElement.id") == "problems"
    assert page.locator("#f-slack-0-apiURL").input_value() == ""  # never sent back
    assert "browser-secret" not in page.content()
    assert page.get_by_text("Type the secret again").is_visible()
    assert page.locator("#f-slack-0-channel").input_value() == "#pager"
    screenshot(page, f"{who}-receiver-form-error")

    url_field.fill("https://hooks.acme.example/alerts")
    page.locator("#f-slack-0-apiURL").fill(secret)
    page.get_by_role("button", name="Create receiver").click()
    page.wait_for_url(re.compile(r".*notice=receiver-created.*"))
    assert page.get_by_role("status").inner_text() == f"Receiver {name} created."
    row = page.locator(f'tr[data-receiver="{name}"]')
    row.locator('[data-phase="Synced"]').wait_for(timeout=SLOW_MS)  # the table refreshes
    assert "webhook https://hooks.acme.example/alerts" in row.inner_text()
    eventually(lambda: in_alertmanager(stack, name))
    screenshot(page, f"{who}-receivers-created")

    # The edit form of a receiver with multi-line templates, saved as shown: no change.
    before = receiver_generation(stack, token, "team")
    page.get_by_role("link", name="team", exact=True).click()
    assert page.locator("#f-slack-0-secretName").input_value() == "acme-slack"
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r".*notice=receiver-saved.*"))
    assert receiver_generation(stack, token, "team") == before

    page.get_by_role("link", name=name, exact=True).click()
    assert "browser-secret" not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())  # "Delete receiver ...?"
    page.get_by_role("button", name="Delete receiver").click()
    page.wait_for_url(re.compile(r".*notice=receiver-deleted.*"))
    assert page.locator(f'tr[data-receiver="{name}"]').count() == 0
    eventually(lambda: not in_alertmanager(stack, name))


def firing(page: Any, who: str) -> str:
    tab(page, "Firing")
    # The exporter reports failing checkouts: HighErrorRate fires within seconds, and the
    # table (refreshed every 5 s by console.js) shows it without a reload.
    row = page.locator("#firing-table tbody th", has_text="HighErrorRate")
    row.first.wait_for(timeout=FIRING_MS)
    screenshot(page, f"{who}-firing")
    tab(page, "Sync status")
    screenshot(page, f"{who}-status")
    return str(page.content())


def test_admin_in_the_browser(page: Any, stack: LocalStack) -> None:
    url = base(stack)
    page.goto(f"{url}/console/signin")
    screenshot(page, "signin")
    sign_in(page, url, stack.tokens["admin"])
    table = page.locator("table.data tbody")
    assert table.locator("th").all_inner_texts() == ["acme", "globex", "initech"]

    # Keyboard: the skip link comes first, and focus is always visible.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert style == "solid"

    page.get_by_role("link", name="acme", exact=True).click()
    screenshot(page, "overview-acme-alerts")
    alert_lifecycle(page, stack, "admin", "CpuBusyAdmin")
    preview_and_routing(page, "admin")
    firing(page, "admin")

    # The overview: firing counts from Alertmanager (acme's demo alerts fire by now).
    page.get_by_role("link", name="Customers", exact=True).first.click()
    counts = page.locator(".firing-count").all_inner_texts()
    assert int(counts[0]) > 0
    assert page.locator(".phase-synced").count() >= 3
    screenshot(page, "admin-overview")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{url}/console/signin?signedout=1")
    page.goto(f"{url}/console/customers/acme")
    assert "/console/signin" in page.url


def test_customer_token_in_the_browser(page: Any, stack: LocalStack) -> None:
    url = base(stack)
    sign_in(page, url, stack.tokens["acme"])
    seen = [page.content()]
    assert page.locator("table.data tbody th").all_inner_texts() == ["acme"]
    assert page.get_by_text("Start a customer").count() == 0
    screenshot(page, "acme-overview")

    page.get_by_role("link", name="acme", exact=True).click()
    alert_lifecycle(page, stack, "acme", "CpuBusyTeam")
    seen.append(page.content())
    preview_and_routing(page, "acme")
    receiver_lifecycle(page, stack, "acme", stack.tokens["acme"])
    seen.append(page.content())
    seen.append(firing(page, "acme"))
    for section in ("Alerts", "Receivers & routing", "Audit", "Template preview"):
        tab(page, section)
        seen.append(page.content())
    for body in seen:
        assert "globex" not in body.lower() and "initech" not in body.lower()

    # Another customer's page is the plain "not found" page, naming nothing.
    for path in (
        "globex",
        "globex/audit",
        "globex/alerts/QueueBacklog",
        "globex/receivers",
        "globex/receivers/dispatch-hook",
        "globex/new-receiver",
        "nobody",
    ):
        response = page.goto(f"{url}/console/customers/{path}")
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert "globex" not in page.locator("main").inner_text().lower()
    screenshot(page, "acme-not-found")


def test_api_docs_work_offline(page: Any, stack: LocalStack) -> None:
    """/docs renders Swagger UI's list of operations from files this server serves: any
    request to another host is recorded and refused, as it would fail without internet."""
    url = base(stack)
    host = urllib.parse.urlsplit(url).netloc
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{url}/docs")
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(paths) >= 20
    assert any(p.replace("\u200b", "") == "/customers/{customerId}/alerts" for p in paths)
    assert page.locator(".information-container .title").inner_text().startswith("alertplane")
    screenshot(page, "api-docs")
    assert outside == []
    response = page.goto(f"{url}/redoc")
    assert response is not None and response.status == 404

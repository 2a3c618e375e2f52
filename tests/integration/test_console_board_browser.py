"""The live alert board in a real browser (Debian's Chromium under Playwright) against a
real `alertplane serve` with Prometheus and Alertmanager (the demo stack: acme's alerts
fire): readable on a laptop, usable with the keyboard alone, updating without a reload,
silencing and unsilencing in place, the timeline drawn; a customer token sees only its
own customer, an admin every customer."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import VIEWPORT, chromium, console_stack, screenshot, sign_in
from tests.support.firing import firing, post_alerts
from tests.support.waiting import eventually

FIRING_MS = 90_000  # reloads and the first evaluations of the real Prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("board-stack")) as found:
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
    screenshot(found, f"last-{request.node.name}")
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.textContent"))


def firing_row(page: Any, name: str) -> Any:
    """The row of `name` once Alertmanager has it (it has a fingerprint then)."""
    row = page.locator(
        f'#board tr[data-alert="{name}"][data-state="firing"]:not([data-fingerprint=""])'
    )
    row.first.wait_for(timeout=FIRING_MS)
    return row.first


def silences(stack: LocalStack) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{stack.alertmanager.url}/api/v2/silences", timeout=10) as r:
        return [s for s in json.loads(r.read()) if s["status"]["state"] == "active"]


def test_customer_board_keyboard_live_silence_timeline(page: Any, stack: LocalStack) -> None:
    url = stack.serve.url
    sign_in(page, url, stack.tokens["acme"])
    page.goto(f"{url}/console/customers/acme/board")
    row = firing_row(page, "HighErrorRate")
    fp = row.get_attribute("data-fingerprint")
    page.evaluate("window.boardMarker = 1")  # survives only as long as the page is not reloaded

    # Readable on a laptop: nothing wider than the window, the table's text not shrunk.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert (
        page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('table.board td')).fontSize)"
        )
        >= 13
    )
    assert "value:" in row.inner_text() and "oncall" in row.inner_text()

    # Live: an alert that starts firing appears without a reload.
    post_alerts(stack.alertmanager.url, firing([("acme", "BoardLiveCheck")]))
    page.locator('#board tr[data-alert="BoardLiveCheck"]').wait_for(timeout=30_000)
    assert page.evaluate("window.boardMarker") == 1
    assert "Updated" in page.locator('[data-board-stamp="board"]').inner_text()

    # Keyboard: the duration, then its button; Space silences in place, the notice takes focus.
    select = page.locator(f"#dur-acme-{fp}")
    select.focus()
    page.keyboard.press("Tab")
    assert focused(page) == f"act-acme-{fp}"
    page.keyboard.press("Space")
    notice = page.locator("#board-notice [role=status]")
    notice.wait_for()
    assert notice.inner_text().startswith("HighErrorRate silenced for 2h (silence ")
    assert focused(page) == "board-notice"
    page.locator('#board tr[data-alert="HighErrorRate"][data-state="silenced"]').wait_for()
    assert page.evaluate("window.boardMarker") == 1
    (made,) = silences(stack)
    assert {m["name"]: m["value"] for m in made["matchers"]}["customer_id"] == "acme"
    screenshot(page, "acme-board-silenced")

    # Unsilence with Enter, reached with Tab from the notice.
    page.keyboard.press("Tab")
    for _ in range(60):
        if focused(page) == f"act-acme-{fp}":
            break
        page.keyboard.press("Tab")
    assert focused(page) == f"act-acme-{fp}"
    assert page.locator(f"#act-acme-{fp}").inner_text().startswith("Unsilence")
    page.keyboard.press("Enter")
    page.locator("#board-notice [role=status]", has_text="HighErrorRate unsilenced").wait_for()
    firing_row(page, "HighErrorRate")
    eventually(lambda: silences(stack) == [])

    # The timeline: acme's firing alerts over the last hours, drawn server-side.
    # Drawn at page load (refreshed every minute): HighErrorRate's own bar, not any bar,
    # decides the reload, as the other demo alerts may have fired before it did.
    bar = '#timeline g.timeline-row[data-alert="HighErrorRate · critical"] rect.bar'
    if page.locator(bar).count() == 0:  # Prometheus records ALERTS every second
        page.goto(f"{url}/console/customers/acme/board?hours=1")
    page.locator(bar).first.wait_for()
    title = page.locator('#timeline g[data-alert="HighErrorRate · critical"] title').first
    assert title.text_content().startswith("HighErrorRate · critical: firing ")
    screenshot(page, "acme-board")
    body = page.content().lower()
    assert "globex" not in body and "initech" not in body


def test_admin_board_every_customer(page: Any, stack: LocalStack) -> None:
    url = stack.serve.url
    sign_in(page, url, stack.tokens["admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    page.wait_for_url(f"{url}/console/board")
    firing_row(page, "HighErrorRate")
    post_alerts(stack.alertmanager.url, firing([("globex", "GlobexBoardCheck")]))
    page.locator('#board tr[data-alert="GlobexBoardCheck"]').wait_for(timeout=30_000)
    customers = set(page.locator("#board tbody td:nth-child(2) a").all_inner_texts())
    assert {"acme", "globex"} <= customers
    # The filter with the keyboard: choose a customer, Enter shows only its alerts.
    page.locator("#board-customer").focus()
    page.keyboard.type("g")  # a closed select takes the option its typed letter starts
    assert page.locator("#board-customer").input_value() == "globex"
    page.keyboard.press("Tab")
    assert focused(page) == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console/board?state=&customer=globex")
    assert set(page.locator("#board tbody td:nth-child(2) a").all_inner_texts()) == {"globex"}
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    screenshot(page, "admin-board")


def test_customer_token_board_is_its_own(page: Any, stack: LocalStack) -> None:
    url = stack.serve.url
    sign_in(page, url, stack.tokens["acme"])
    page.goto(f"{url}/console/board?customer=globex")
    firing_row(page, "HighErrorRate")
    assert page.locator("#board-customer").count() == 0  # no customer choice to make
    assert "globex" not in page.content().lower()
    response = page.goto(f"{url}/console/customers/globex/board")
    assert response is not None and response.status == 404

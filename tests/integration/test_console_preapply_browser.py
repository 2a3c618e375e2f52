"""The alert form's Preview button and the import page in a real browser (Debian's
Chromium, Playwright) against `make run`'s stack (real Prometheus scraping the demo
exporter's acme, globex and initech series), signed in with acme's token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.stack.local import LocalStack
from tests.support.browser import VIEWPORT, chromium, console_stack, screenshot, sign_in

RULES = """\
groups:
- name: disks
  rules:
  - alert: DiskNearlyFull
    expr: node_filesystem_avail_ratio < 0.2
    for: 10m
    labels: {severity: critical}
  - alert: Heartbeat
    expr: vector(1)
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with console_stack(tmp_path_factory.mktemp("console-preapply")) as found:
        yield found


@pytest.fixture
def page(stack: LocalStack, request: pytest.FixtureRequest) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30_000)
        found = context.new_page()
        errors: list[str] = []
        found.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(found, stack.serve.url, stack.tokens["acme"])
        yield found
        screenshot(found, f"last-{request.node.name}")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def test_preview_button(page: Any, stack: LocalStack) -> None:
    page.goto(f"{stack.serve.url}/console/customers/acme/new-alert")
    page.get_by_label("Alert name").fill("DiskLow")
    page.get_by_label("Severity").select_option("warning")
    page.get_by_label("Category").select_option("infrastructure")
    page.get_by_label("Expression (PromQL)").fill("node_filesystem_avail_ratio < 0.9")
    page.get_by_role("button", name="Preview").click()
    # The isolation check first: its message on the field, nothing evaluated.
    expr = page.locator("#f-expr")
    assert expr.get_attribute("aria-invalid") == "true"
    assert (
        page.locator("#alert-preview")
        .inner_text()
        .endswith("Nothing was evaluated: fix the problems above first.")
    )
    expr.fill('node_filesystem_avail_ratio{customer_id="acme"} < 0.9')
    # From the keyboard, like Save: focus the button, Enter.
    page.get_by_role("button", name="Preview").focus()
    page.keyboard.press("Enter")
    section = page.locator("#alert-preview")
    section.wait_for()
    # acme has / and /data below 0.9; globex's and initech's disks never count.
    assert (
        section.locator(".preview-count").inner_text()
        == "2 series match now: 2 alerts would be firing."
    )
    labels = section.locator("table.preview-series tbody tr").all_inner_texts()
    assert len(labels) == 2 and all('customer_id="acme"' in row for row in labels)
    assert not any("globex" in row or "initech" in row for row in labels)
    assert page.evaluate("document.activeElement.id") == "alert-preview"  # keyboard there
    assert page.get_by_label("Alert name").input_value() == "DiskLow"  # the form stays
    screenshot(page, "acme-alert-preview")


def test_import_page_file_review_apply(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    page.goto(f"{stack.serve.url}/console/customers/acme")
    page.get_by_role("navigation", name="Customer sections").get_by_role(
        "link", name="Import"
    ).click()
    rules = tmp_path / "disks.yml"
    rules.write_text(RULES, encoding="utf-8")
    page.get_by_label("Rule file").set_input_files(str(rules))  # console.js fills the text
    page.wait_for_function("document.getElementById('f-rules').value.includes('DiskNearlyFull')")
    page.get_by_role("button", name="Review").click()
    review = page.locator("#import-review")
    assert review.locator("h3").inner_text() == "Review: 1 change, 1 refused, 0 notes"
    assert "Heartbeat" in review.locator("ul.refused").inner_text()
    row = review.locator('tr[data-object="acme-disk-nearly-full"]')
    assert row.locator("[data-action]").inner_text() == "added"
    review.get_by_text("Rendered rules/acme.yml: changed").click()  # <details> opens
    diff = review.locator("details[open] pre").inner_text()
    assert '+    expr: node_filesystem_avail_ratio{customer_id="acme"} < 0.2' in diff
    screenshot(page, "acme-import-review")
    page.get_by_role("button", name="Apply 1 change").click()
    page.wait_for_url(re.compile(r".*notice=imported.*"))
    assert page.get_by_role("status").inner_text() == "1 object imported."
    page.locator('tr[data-alert="DiskNearlyFull"]').wait_for()

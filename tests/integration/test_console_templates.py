"""The catalogue as forms, in Debian's Chromium against a real `alertplane serve` whose
platform config ships the example catalogue: pick a template, fill its parameters, see a
value out of range refused next to its input with the range, fix it, find the alert
rendered with the template's expression and the customer's matcher; open it again and land
on the template's form, not the expression form. A customer token, with the keyboard."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.api_serve import ApiServer
from tests.support.browser import VIEWPORT, chromium, screenshot, sign_in
from tests.support.paths import EXAMPLES, ROOT
from tests.support.waiting import eventually


def _token(tokens: Path, name: str, *role: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "token", "create", name, *role,
         "--append", str(tokens)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return created.stdout.splitlines()[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, str, Path]]:
    tmp = tmp_path_factory.mktemp("console-templates")
    tokens = tmp / "tokens.csv"
    token = _token(tokens, "acme", "--role", "customer:acme")
    platform = tmp / "platform.yaml"
    shutil.copyfile(EXAMPLES / "platform-templates.yaml", platform)
    with platform.open("a") as f:
        f.write(f"secretsDir: {tmp / 'secrets'}\n")
    out = tmp / "out"
    args = ["--db", f"sqlite:///{tmp / 'a.db'}", "--out", str(out), "--platform-config",
            str(platform), "--tokens", str(tokens)]  # fmt: skip
    # This checkout's code in the server too (a worktree beside another's editable install).
    with ApiServer(tmp / "serve", args, {"PYTHONPATH": str(ROOT / "operator")}) as server:
        yield server, token, out


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30_000)
        found = context.new_page()
        errors: list[str] = []
        found.on("pageerror", lambda exc: errors.append(str(exc)))
        yield found
        screenshot(found, f"last-{request.node.name}")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def test_an_alert_from_a_template_in_the_browser(
    page: Any, served: tuple[ApiServer, str, Path]
) -> None:
    server, token, out = served
    sign_in(page, server.url, token)
    page.goto(f"{server.url}/console/customers/acme")
    page.get_by_role("link", name="From a template").click()
    assert page.get_by_role("heading", name="New alert from a template").is_visible()
    page.get_by_role("link", name="error-ratio").click()

    threshold = page.locator("#f-p-threshold")
    assert threshold.input_value() == "0.05"  # the default, prefilled
    hint = page.locator("#h-p-threshold").inner_text()
    assert hint == "Error share (0.05 = 5%) · from 0.001 to 0.5 · default 0.05"
    page.get_by_label("Alert name").fill("ApiErrors")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Category").select_option("application")
    page.locator("#f-p-selector").fill('job="api"')
    threshold.fill("0.9")
    page.get_by_role("button", name="Create alert").click()

    threshold = page.locator("#f-p-threshold")
    assert threshold.get_attribute("aria-invalid") == "true"
    (error_id,) = [
        i for i in threshold.get_attribute("aria-describedby").split() if i.startswith("e-")
    ]
    assert page.locator(f"#{error_id}").inner_text() == (
        "spec.template.params.threshold: 0.9 is above the maximum 0.5; template "
        "'error-ratio' allows threshold from 0.001 to 0.5"
    )
    assert page.locator("#f-p-selector").input_value() == 'job="api"'  # what was typed stays
    screenshot(page, "template-form-error")

    # Fixed with the keyboard only: focus the input, type, Enter submits the form.
    threshold.focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("0.1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*notice=created.*"))
    assert page.get_by_role("status").inner_text() == "Alert ApiErrors created."
    page.locator('tr[data-alert="ApiErrors"] [data-phase="Synced"]').wait_for()

    def rendered() -> Any:
        path = out / "rules" / "acme.yml"
        return path.exists() and yaml.safe_load(path.read_text())["groups"][0]["rules"][0]

    rule = eventually(rendered, timeout=60)
    assert rule["expr"] == (
        'sum by (job) (rate(http_requests_total{code=~"5..", job="api", customer_id="acme"}'
        "[5m]))\n"
        '  / sum by (job) (rate(http_requests_total{job="api",customer_id="acme"}[5m]))\n'
        "  > 0.1\n"
    )
    assert rule["for"] == "5m"

    # Opening the alert lands on its template's form, with its parameters.
    page.locator('tr[data-alert="ApiErrors"]').get_by_role("link", name="ApiErrors").click()
    page.wait_for_url(re.compile(r".*/alerts/ApiErrors/template$"))
    assert page.locator("#f-p-threshold").input_value() == "0.1"
    assert page.locator("#f-p-selector").input_value() == 'job="api"'
    page.locator("#f-p-window").fill("10m")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r".*notice=saved.*"))
    eventually(lambda: "[10m]" in (rendered() or {}).get("expr", ""), timeout=60)
    screenshot(page, "template-form-saved")

    # Another customer's template pages are no page at all for this token.
    for path in ("templates", "templates/error-ratio", "alerts/ApiErrors/template"):
        answer = page.goto(f"{server.url}/console/customers/globex/{path}")
        assert answer is not None and answer.status == 404, path

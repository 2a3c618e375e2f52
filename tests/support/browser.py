"""Browser tests' helpers: Debian's Chromium driven by Playwright (never a downloaded
browser), the local stack with a tokens file, sign-in and screenshots.

A missing Chromium or Playwright fails the tests loudly: the console is only proven in a
real browser.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.stack import local
from alertplane.stack.local import LocalStack
from tests.support.processes import Prometheus

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
DOCS_SCREENSHOT = ROOT / "docs" / "console-overview.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright; fails (never skips) when either is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the console's browser tests need Debian's chromium "
            "(run `make deps`, or apt-get install chromium)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def console_stack(state: Path) -> Iterator[LocalStack]:
    """Prometheus, Alertmanager, the demo exporter (unhealthy: acme's alerts fire) and
    `alertplane serve` with the examples applied and a tokens file: `stack.tokens` has an
    admin token (named "admin") and one scoped to acme (named "acme")."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local, "Prometheus", PromptPrometheus)
        stack = LocalStack(state, fast=True).start()
    try:
        assert set(stack.tokens) == {"admin", "acme"}
        yield stack
    finally:
        stack.close()


class PromptPrometheus(Prometheus):
    """Prometheus resending firing alerts every second instead of every minute: alerts
    that fire before it has discovered Alertmanager (its discovery updates every 5 s) are
    dropped and would otherwise reach Alertmanager only a minute later."""

    def command(self) -> list[str]:
        return [*super().command(), "--rules.alert.resend-delay=1s"]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if name == "admin-alerts-disabled" and os.environ.get("ALERTPLANE_UPDATE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT)
    return path


def sign_in(page: Any, base: str, token: str) -> None:
    """With the keyboard only: the token field has focus on arrival, Enter submits."""
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/console/signin")
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/console/")

"""The silence flow in Debian's Chromium against `alertplane serve` and a real
Alertmanager 0.25, on a laptop-sized screen: from a firing alert, "Silence for 2h" opens
the form with the alert's labels as matchers; the comment typed and Enter pressed creates
it; the firing page then shows the alert silenced; the silence is extended and expired
from the Silences tab. Another customer's identical alert stays unsilenced and is never
shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.stack.processes import Alertmanager
from tests.support.api_env import ACME_TOKEN
from tests.support.browser import VIEWPORT, chromium, screenshot, sign_in
from tests.support.firing import firing, post_alerts
from tests.support.silences import am_config, am_silences, served
from tests.support.waiting import eventually


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(30_000)
        found = context.new_page()
        errors: list[str] = []
        found.on("pageerror", lambda exc: errors.append(str(exc)))
        found.on("dialog", lambda dialog: dialog.accept())  # "Expire this silence now?"
        yield found
        screenshot(found, "silences-last")
        context.close()
        assert not errors, f"JavaScript errors: {errors}"


def test_silence_from_a_firing_alert_in_the_browser(page: Any, tmp_path: Path) -> None:
    with Alertmanager(am_config(tmp_path), tmp_path / "am") as am, served(tmp_path, am.url) as api:
        post_alerts(am.url, firing([("acme", "DiskFull"), ("globex", "DiskFull")]))
        eventually(lambda: len(am.alerts()) == 2)
        seen: list[str] = []
        sign_in(page, api.url, ACME_TOKEN)
        page.goto(f"{api.url}/console/customers/acme/firing")
        page.get_by_role("link", name="Silence DiskFull for 2 hours").click()
        page.wait_for_url("**/console/customers/acme/silences/new?**")
        matchers = page.get_by_label("Matchers")
        assert matchers.input_value().strip() == 'alertname="DiskFull"\nseverity="critical"'
        assert page.get_by_label("Duration").input_value() == "2h"
        screenshot(page, "silence-form")
        page.get_by_label("Comment").focus()
        page.keyboard.type("disk swap")
        page.keyboard.press("Enter")  # the keyboard alone creates it
        page.wait_for_url("**/console/customers/acme/silences?notice=created**")
        [held] = am_silences(am.url)
        assert page.get_by_role("status").inner_text() == f"Silence {held['id']} created."
        row = page.locator(f'tr[data-silence="{held["id"]}"]')
        assert row.get_attribute("data-state") == "active"
        assert 'customer_id="acme"' in row.inner_text()
        seen.append(page.content())
        screenshot(page, "silences-list")

        def silenced() -> dict[str, list[str]]:
            return {a["labels"]["customer_id"]: a["status"]["silencedBy"] for a in am.alerts()}

        assert silenced() == {"acme": [held["id"]], "globex": []}
        page.get_by_role("navigation", name="Customer sections").get_by_role(
            "link", name="Firing"
        ).click()
        assert page.get_by_role("link", name="silenced", exact=True).is_visible()
        seen.append(page.content())

        page.get_by_role("navigation", name="Customer sections").get_by_role(
            "link", name="Silences"
        ).click()
        page.get_by_role("button", name=f"Extend silence {held['id']} by 2 hours").click()
        page.wait_for_url("**notice=extended**")
        sid = page.url.rsplit("what=", 1)[1]
        button = page.get_by_role("button", name=f"Expire silence {sid}")
        button.focus()
        page.keyboard.press("Space")  # a button works from the keyboard too
        page.wait_for_url("**notice=expired**")
        assert page.locator(f'tr[data-silence="{sid}"]').get_attribute("data-state") == "expired"
        assert {s["status"]["state"] for s in am_silences(am.url)} == {"expired"}
        seen.append(page.content())
        screenshot(page, "silences-expired")
        for body in seen:
            assert "globex" not in body.lower()

"""The warning/critical pair idiom in the console (as a browser sees it through FastAPI's
TestClient): the list links each alert of a pair with its severity, each edit page, the
enabled switch, saving and deleting act on that one alert, and a pair's plain URL is a
409 page naming both severities' paths."""

from __future__ import annotations

import html
import re

from tests.support.api_env import ACME, ACME_TOKEN, GLOBEX_TOKEN, ApiEnv, alert_spec
from tests.support.console import alert_form, assert_page, client, env, post

__all__ = ["env"]  # the fixture (tests/support/console.py)

C = "/console"
BASE = f"{C}/customers/acme"
NAME = "NodeFilesystemSpaceFillingUp"
ONE = f"{BASE}/alerts/{NAME}"


def _pair(env: ApiEnv) -> None:
    for severity in ("warning", "critical"):
        spec = alert_spec(NAME, severity=severity)
        r = env.client.post("/customers/acme/alerts?wait=true", json=spec, headers=ACME)
        assert r.status_code == 201, r.text


def test_the_list_links_each_alert_of_a_pair_by_severity(env: ApiEnv) -> None:
    _pair(env)
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(BASE))
    links = re.findall(r'<th scope="row"><a href="([^"]+)">' + NAME, page)
    assert [html.unescape(link) for link in links] == [
        f"{ONE}?severity=critical",
        f"{ONE}?severity=warning",
    ]
    switches = re.findall(r'<form method="post" action="([^"]+/enabled[^"]*)"', page)
    assert [html.unescape(s) for s in switches] == [
        f"{ONE}/enabled?severity=critical",
        f"{ONE}/enabled?severity=warning",
    ]
    assert f'aria-label="Enabled: {NAME} (critical)"' in page
    # Each edit page is about its own alert, and its forms keep the severity.
    for severity in ("critical", "warning"):
        edit = assert_page(c.get(f"{ONE}?severity={severity}"))
        assert re.search(rf'<option value="{severity}"\s+selected', edit), severity
        assert f'action="{ONE}?severity={severity}"' in html.unescape(edit)
        assert f'action="{ONE}/delete?severity={severity}"' in html.unescape(edit)
    ambiguous = assert_page(c.get(ONE), 409)
    assert f"{NAME!r} is a pair" in html.unescape(ambiguous)


def test_saving_toggling_and_deleting_one_alert_of_a_pair(env: ApiEnv) -> None:
    _pair(env)
    c = client(env, ACME_TOKEN)
    edit = f"{ONE}?severity=warning"
    form = alert_form(NAME, severity="warning", expr=alert_spec()["expr"], labels="")
    r = post(c, edit, edit, {**form, "for": "7m"})
    assert r.status_code == 303, r.text
    by_severity = {s.spec["severity"]: s for s in env.store.get(kind="CustomerAlert")}
    assert by_severity["warning"].spec["for"] == "7m"
    assert "for" not in by_severity["critical"].spec
    # Saving onto the partner's severity is refused on the name field, nothing written.
    r = post(c, edit, edit, {**form, "severity": "critical"})
    assert "at severity 'critical' already exists" in html.unescape(assert_page(r, 422))

    r = post(c, BASE, f"{ONE}/enabled?severity=critical", {"enabled": "false"})
    assert r.status_code == 303
    enabled = {s.spec["severity"]: s.spec.get("enabled", True) for s in env.store.get()}
    assert enabled == {"warning": True, "critical": False}

    r = post(c, edit, f"{ONE}/delete?severity=warning", {})
    assert r.status_code == 303
    assert [s.spec["severity"] for s in env.store.get()] == ["critical"]
    # One left: the name is unique again; its plain URL opens it.
    assert 'value="critical"' in assert_page(c.get(ONE))


def test_another_customer_reaches_no_alert_of_the_pair(env: ApiEnv) -> None:
    _pair(env)
    c = client(env, GLOBEX_TOKEN)
    for url in (ONE, f"{ONE}?severity=warning"):
        page = assert_page(c.get(url), 404)
        assert "critical" not in page and NAME not in page

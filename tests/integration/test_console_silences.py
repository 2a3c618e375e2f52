"""The console's silence pages against a real Alertmanager 0.25 (TestClient; the same
flow in Chromium is test_console_silences_browser.py): the firing table links each alert
to the form with its labels as matchers; the form creates the silence through the
service (source "console"); the list extends and expires; refusals are shown at their
field; another customer's silence or pages are 404."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.support.api_env import ACME_TOKEN, GLOBEX_TOKEN
from tests.support.console import C, client, csrf_of, post
from tests.support.firing import firing, post_alerts
from tests.support.silences import am_silences, silence_env
from tests.support.waiting import eventually


def test_silence_a_firing_alert_from_the_console(db_url: str, tmp_path: Path) -> None:
    with silence_env(db_url, tmp_path) as (env, am):
        post_alerts(am.url, firing([("acme", "DiskFull"), ("globex", "DiskFull")]))
        eventually(lambda: len(am.alerts()) == 2)
        c = client(env, ACME_TOKEN)
        page = c.get(f"{C}/customers/acme/firing").text
        [link] = re.findall(r'href="([^"]*/silences/new\?[^"]*)"', page)
        link = html.unescape(link)
        assert parse_qsl(urlsplit(link).query) == [
            ("m", 'alertname="DiskFull"'),
            ("m", 'severity="critical"'),
        ]
        form = c.get(link).text
        assert 'alertname="DiskFull"\nseverity="critical"</textarea>' in html.unescape(form)
        assert 'value="2h"' in form

        page = f"{C}/customers/acme/silences/new"
        data = {"matchers": 'alertname="DiskFull"\nseverity="critical"', "duration": "2h"}
        r = post(c, page, f"{C}/customers/acme/silences", {**data, "comment": ""})
        assert r.status_code == 422
        assert "comment: required; say why the alerts are silenced" in r.text
        r = post(
            c, page, f"{C}/customers/acme/silences", {**data, "matchers": "oops", "comment": "x"}
        )
        assert r.status_code == 422
        assert (
            html.unescape(r.text).count(
                'matchers: line 1 is not a matcher; write name="value", name!="value", '
                'name=~"regex" or name!~"regex"'
            )
            == 1
        )
        r = post(c, page, f"{C}/customers/acme/silences", {**data, "comment": "disk swap"})
        assert r.status_code == 303, r.text
        [held] = am_silences(am.url)
        assert (
            r.headers["location"] == f"{C}/customers/acme/silences?notice=created&what={held['id']}"
        )
        assert [m["name"] for m in held["matchers"]] == ["customer_id", "alertname", "severity"]
        listed = c.get(r.headers["location"]).text
        assert f"Silence {held['id']} created." in listed
        assert f'data-silence="{held["id"]}" data-state="active"' in listed

        def silenced() -> dict[str, list[str]]:
            return {a["labels"]["customer_id"]: a["status"]["silencedBy"] for a in am.alerts()}

        assert silenced() == {"acme": [held["id"]], "globex": []}
        assert ">silenced</a>" in c.get(f"{C}/customers/acme/fragments/firing").text

        # Extend by 2 hours, then expire; both audited as the console's.
        r = post(
            c,
            f"{C}/customers/acme/silences",
            f"{C}/customers/acme/silences/{held['id']}/extend",
            {},
        )
        assert r.status_code == 303 and "notice=extended" in r.headers["location"]
        sid = dict(parse_qsl(urlsplit(r.headers["location"]).query))["what"]
        r = post(c, f"{C}/customers/acme/silences", f"{C}/customers/acme/silences/{sid}/expire", {})
        assert r.status_code == 303 and "notice=expired" in r.headers["location"]
        assert {s["status"]["state"] for s in am_silences(am.url)} == {"expired"}
        audit = c.get(f"{C}/customers/acme/audit").text
        assert audit.count("via console") == 3 and "silence <a" in audit

        # Another customer: its token gets 404 on acme's pages and on acme's silence.
        g = client(env, GLOBEX_TOKEN)
        for path in ("acme/silences", "acme/silences/new"):
            assert g.get(f"{C}/customers/{path}").status_code == 404
        token = csrf_of(g.get(f"{C}/customers/globex/silences").text)
        r = g.post(
            f"{C}/customers/globex/silences/{sid}/expire",
            data={"csrf": token},
            follow_redirects=False,
        )
        assert r.status_code == 404 and "<h1>Not found</h1>" in r.text
        assert "acme" not in g.get(f"{C}/customers/globex/silences").text

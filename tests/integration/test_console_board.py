"""The live alert board (console/board.py over service/board.py) against a real Prometheus
2.42 and a real Alertmanager 0.25: states from both, conditions from the store, routing,
the timeline from ALERTS, and the scoping of every part to the caller's customers."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.render.yamlout import dump
from alertplane.stack.processes import Alertmanager, Prometheus
from tests.support.api_env import ACME, ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, ApiEnv
from tests.support.browser import PromptPrometheus
from tests.support.console import C, assert_page, client, csrf_of, env, examples
from tests.support.firing import firing, post_alerts
from tests.support.waiting import eventually

__all__ = ["env", "examples"]  # fixtures (tests/support/console.py)


def rule(
    name: str, customer: str, severity: str, expr: str = "vector(1)", wait: str = "0s"
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": wait,
        "labels": {"customer_id": customer, "severity": severity},
        "annotations": {"summary": f"{name} of {customer}"},
    }


# Rules evaluated by the real Prometheus (not through alertplane: the board reads what
# any Prometheus evaluates). HighErrorRate and QueueBacklog match stored alerts' identity.
RULES = [
    rule("HighErrorRate", "acme", "critical", "vector(42.5)"),
    rule("SlowResponses", "acme", "warning", wait="1h"),  # pending for an hour
    rule("QueueBacklog", "globex", "warning", "vector(7)"),
    rule("LookAlike", "acme-eu", "critical"),  # a prefix of acme is not acme
]


@pytest.fixture
def live(examples: ApiEnv, tmp_path: Path) -> Iterator[tuple[ApiEnv, Prometheus, Alertmanager]]:
    rules = tmp_path / "board-rules"
    rules.mkdir()
    (rules / "board.yml").write_text(dump({"groups": [{"name": "board", "rules": RULES}]}))
    with (
        Alertmanager(examples.out / "alertmanager.yml") as am,
        PromptPrometheus(rules, alertmanager_url=am.url) as prom,
    ):
        examples.reconciler.settings.alertmanager_url = am.url
        examples.reconciler.settings.prometheus_url = prom.url
        eventually(lambda: len(prom.alerts()) == 4, timeout=60)
        yield examples, prom, am


def rows(page: str) -> list[tuple[str, str]]:
    """(alert name, state) of each row, in order."""
    return re.findall(r'<tr data-state="(\w+)" data-fingerprint="[^"]*" data-alert="([^"]+)"', page)


def test_board_states_values_conditions_and_routes(live: Any) -> None:
    env, _, am = live
    acme = client(env, ACME_TOKEN)
    # Straight to Alertmanager too: an alert no Prometheus of ours evaluates still shows.
    post_alerts(am.url, firing([("acme", "TargetDown"), ("globex", "ErrorBudgetBurn")]))

    def settled() -> str | None:
        page = assert_page(acme.get(f"{C}/customers/acme/fragments/board"))
        found = sorted((a, s) for s, a in rows(page))
        want = [("HighErrorRate", "firing"), ("SlowResponses", "pending"), ("TargetDown", "firing")]
        # Firing ones once Alertmanager has them too (they can be silenced then).
        return page if found == want and page.count('data-fingerprint=""') == 1 else None

    page = eventually(settled, timeout=60)
    assert "globex" not in page and "acme-eu" not in page and "LookAlike" not in page
    high = page[page.index('data-alert="HighErrorRate"') :].split("</tr>")[0]
    assert 'app_http_requests_total{customer_id="acme", code=~"5.."}' in high.replace("&#34;", '"')
    assert '<strong class="value">42.5</strong>' in high
    assert "oncall" in high  # acme's critical route (examples/customers/acme.yaml)
    slow = page[page.index('data-alert="SlowResponses"') :].split("</tr>")[0]
    assert '<strong class="value">1</strong>' in slow
    # Alertmanager has no pending alert: the form names it by a digest of its labels.
    assert re.search(r'name="fingerprint" value="p[0-9a-f]{16}"', slow)
    assert re.search(r'data-count="pending">1<', page)
    assert re.search(r'data-count="firing">2<', page)

    # A changed condition shows at the next refresh (the kept map follows every change).
    spec = env.client.get("/customers/acme/alerts/HighErrorRate", headers=ACME).json()["spec"]
    spec["expr"] = 'up{customer_id="acme"} == 0'
    r = env.client.put("/customers/acme/alerts/HighErrorRate", json=spec, headers=ACME)
    assert r.status_code == 200, r.text
    page = assert_page(acme.get(f"{C}/customers/acme/fragments/board"))
    high = page[page.index('data-alert="HighErrorRate"') :].split("</tr>")[0]
    assert 'up{customer_id="acme"} == 0' in high.replace("&#34;", '"')


def test_admin_board_every_customer_and_filters(live: Any) -> None:
    env, _, _ = live
    admin = client(env, ADMIN_TOKEN)

    def ready() -> str | None:
        page = assert_page(admin.get(f"{C}/fragments/board"))
        return page if len(rows(page)) == 3 else None

    page = eventually(ready, timeout=60)
    # acme-eu has no objects: not a customer anyone sees, so not on the board.
    assert sorted(a for _, a in rows(page)) == ["HighErrorRate", "QueueBacklog", "SlowResponses"]
    full = assert_page(admin.get(f"{C}/board?state=pending"))
    assert [a for _, a in rows(full)] == ["SlowResponses"]
    assert 'data-board-url="/console/fragments/board?state=pending"' in full
    one = assert_page(admin.get(f"{C}/board?customer=globex"))
    assert [a for _, a in rows(one)] == ["QueueBacklog"]
    # A customer token's "all customers" board is its own, whatever it asks for.
    globex = client(env, GLOBEX_TOKEN)
    page = assert_page(globex.get(f"{C}/fragments/board?customer=acme"))
    assert [a for _, a in rows(page)] == ["QueueBacklog"]


def test_customer_board_scoping(live: Any) -> None:
    env, _, _ = live
    acme = client(env, ACME_TOKEN)
    for path in ("board", "fragments/board", "fragments/timeline?hours=1"):
        r = acme.get(f"{C}/customers/globex/{path}")
        assert r.status_code == 404, path
        assert "globex" not in r.text.replace("/customers/globex", "")


def test_timeline_from_alerts_series(live: Any) -> None:
    env, _, _ = live
    acme = client(env, ACME_TOKEN)

    def drawn() -> str | None:
        page = assert_page(acme.get(f"{C}/customers/acme/fragments/timeline?hours=1"))
        return page if 'data-alert="HighErrorRate · critical"' in page else None

    page = eventually(drawn, timeout=60)
    assert "<svg" in page and 'class="bar"' in page
    # Pending alerts are not firing; other customers' series are never asked for.
    assert "SlowResponses" not in page and "QueueBacklog" not in page and "LookAlike" not in page
    full = assert_page(acme.get(f"{C}/customers/acme/board?hours=3"))
    assert "Firing over the last 3 hours" in full and "<svg" in full


def test_sources_down_are_said(examples: ApiEnv) -> None:
    acme = client(examples, ACME_TOKEN)
    page = assert_page(acme.get(f"{C}/customers/acme/board"))
    assert "Alertmanager not configured: firing, silenced and inhibited unknown" in page
    assert "no Prometheus URL configured (alertplane serve --prometheus-url)" in page
    assert "the timeline is not available" in page


def fingerprint(page: str, alert: str) -> str:
    found = re.search(rf'data-fingerprint="(\w+)" data-alert="{alert}"', page)
    assert found, f"{alert} not on the page"
    return found.group(1)


def test_silence_and_unsilence_from_the_board(live: Any) -> None:
    env, _, am = live
    acme, admin = client(env, ACME_TOKEN), client(env, ADMIN_TOKEN)
    board = f"{C}/customers/acme/board"

    def firing_in_am(c: Any, url: str, alert: str) -> str | None:
        page = assert_page(c.get(url))
        fp = re.search(rf'data-state="firing" data-fingerprint="(\w+)" data-alert="{alert}"', page)
        return page if fp else None

    page = eventually(lambda: firing_in_am(acme, board, "HighErrorRate"), timeout=60)
    fp = fingerprint(page, "HighErrorRate")
    token = csrf_of(page)
    globex_page = eventually(lambda: firing_in_am(admin, f"{C}/board", "QueueBacklog"), timeout=60)
    globex_fp = fingerprint(globex_page, "QueueBacklog")

    # Another customer's alert, by its fingerprint, through acme's path: not on acme's board.
    r = acme.post(
        f"{board}/silence", data={"csrf": token, "fingerprint": globex_fp, "duration": "2h"}
    )
    assert r.status_code == 404
    assert "There is nothing here, or it is not yours to see." in r.text
    # ... and through globex's path: globex is not acme's to see.
    r = acme.post(
        f"{C}/customers/globex/board/silence",
        data={"csrf": token, "fingerprint": globex_fp, "duration": "2h"},
    )
    assert r.status_code == 404
    r = acme.post(f"{board}/silence", data={"csrf": token, "fingerprint": fp, "duration": "3w"})
    assert r.status_code == 422 and "duration: must be one of 1h, 2h, 4h, 1d" in r.text
    r = acme.post(f"{board}/silence", data={"csrf": "forged", "fingerprint": fp})
    assert r.status_code == 403

    # In place (as board.js asks): a notice; the board says silenced.
    r = acme.post(
        f"{board}/silence",
        data={"csrf": token, "fingerprint": fp, "duration": "2h", "back": "acme"},
        headers={"X-Console-Fragment": "1"},
    )
    assert r.status_code == 200, r.text
    said = (
        r'<p class="notice" role="status">HighErrorRate silenced for 2h \(silence [0-9a-f-]{36}\)'
    )
    assert re.fullmatch(said + r"\.</p>\s*", r.text), r.text
    page = assert_page(acme.get(f"{C}/customers/acme/fragments/board"))
    assert ("silenced", "HighErrorRate") in rows(page)
    silences = [s for s in am_silences(am.url) if s["status"]["state"] == "active"]
    assert len(silences) == 1
    matchers = {
        (m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silences[0]["matchers"]
    }
    assert matchers == {
        ("customer_id", "acme", True, False),
        ("alertname", "HighErrorRate", True, False),
        ("severity", "critical", True, False),
    }
    assert silences[0]["createdBy"] == "acme-team"
    # globex's identical-looking alerts are untouched.
    assert ("firing", "QueueBacklog") in rows(assert_page(admin.get(f"{C}/fragments/board")))

    # Without the script: the form posts, the answer redirects back with the notice.
    form = {"csrf": token, "fingerprint": fp, "back": "acme"}
    r = acme.post(f"{board}/unsilence", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{board}?done=unsilenced&what=HighErrorRate"
    page = assert_page(acme.get(r.headers["location"]))
    assert '<p class="notice" role="status">HighErrorRate unsilenced.</p>' in page
    assert ("firing", "HighErrorRate") in rows(page)
    # A pending alert is silenced by its labels, before Alertmanager has it.
    key = re.search(
        r'data-alert="SlowResponses".*?name="fingerprint" value="(p[0-9a-f]{16})"', page, re.S
    )
    assert key, page
    form = {"csrf": token, "fingerprint": key.group(1)}
    r = acme.post(f"{board}/silence", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{board}?done=silenced&what=SlowResponses"
    (made,) = [s for s in am_silences(am.url) if s["status"]["state"] == "active"]
    matchers = {(m["name"], m["value"]) for m in made["matchers"]}
    assert matchers == {
        ("customer_id", "acme"),
        ("alertname", "SlowResponses"),
        ("severity", "warning"),
    }
    audit = env.client.get("/customers/acme/audit", headers=ACME).json()["items"]
    done = [(a["action"], a["actor"], a["source"]) for a in audit if a["kind"] == "Silence"]
    assert done == [
        ("create", "acme-team", "console"),
        ("expire", "acme-team", "console"),
        ("create", "acme-team", "console"),
    ]


def am_silences(url: str) -> list[dict[str, Any]]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/api/v2/silences", timeout=10) as resp:
        return list(json.loads(resp.read()))


def test_a_hanging_prometheus_costs_its_deadline_only(examples: ApiEnv) -> None:
    """A Prometheus that accepts connections and never answers: the board answers, says
    so, and shows what Alertmanager knows (here: that it is not configured)."""
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(16)
        examples.reconciler.settings.prometheus_url = f"http://127.0.0.1:{hang.getsockname()[1]}"
        acme = client(examples, ACME_TOKEN)
        page = assert_page(acme.get(f"{C}/customers/acme/board"))
    assert "prometheus: Prometheus did not answer" in page
    assert "Alertmanager not configured" in page
    assert "Nothing firing or pending" in page


def test_signed_out_board_pages(examples: ApiEnv) -> None:
    anon = client(examples, None)
    for path in ("/board", "/customers/acme/board"):
        r = anon.get(f"{C}{path}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(f"{C}/signin?next=")
    for path in ("/fragments/board", "/customers/acme/fragments/board"):
        r = anon.get(f"{C}{path}", headers={"X-Console-Fragment": "1"})
        assert r.status_code == 401 and "Your session has ended: sign in again." in r.text
    r = anon.post(f"{C}/customers/acme/board/silence", data={"fingerprint": "x"})
    assert r.status_code == 401

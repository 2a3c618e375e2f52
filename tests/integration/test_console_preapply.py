"""The console's import page (paste → review → apply) and the alert form's Preview
button, through FastAPI's TestClient; the Preview against a real Prometheus."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tests.support.api_env import ACME_TOKEN, ADMIN_TOKEN, ApiEnv
from tests.support.console import C, alert_form, assert_page, client, csrf_of, env, field_errors
from tests.support.preview_env import prometheus_env

__all__ = ["env"]  # the fixture

RULES = """\
groups:
- name: node
  rules:
  - alert: DiskAlmostFull
    expr: node_filesystem_avail_ratio{mountpoint="/"} < 0.1
    for: 5m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.host }} is full"}
  - alert: Watchdog
    expr: vector(1)
  - alert: CpuHot
    expr: node_cpu_busy_ratio > 0.9
"""


def review(c, cid: str, rules: str, action: str = "review"):  # type: ignore[no-untyped-def]
    page = f"{C}/customers/{cid}/import"
    token = csrf_of(c.get(page).text)
    data = {"csrf": token, "rules": rules, "category": "infrastructure",
            "defaultSeverity": "warning", "severityMap": "", "action": action}  # fmt: skip
    return c.post(page, data=data, follow_redirects=False)


def test_import_review_then_apply(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(f"{C}/customers/acme/import"))
    assert 'aria-current="page">Import</a>' in page
    text = assert_page(review(c, "acme", RULES))
    assert "Review: 2 changes, 1 refused, 0 notes" in text
    assert re.search(r'data-object="acme-disk-almost-full">.*?data-action="added"', text, re.S)
    unescaped = html.unescape(text)
    assert "body:1 (document 1) group 'node' rule 2 (Watchdog): expression selects no series" in (
        unescaped
    )
    assert '+    expr: node_filesystem_avail_ratio{mountpoint="/",customer_id="acme"} < 0.1' in (
        unescaped
    )
    assert "Rendered <code>rules/acme.yml</code>: added" in text
    assert env.store.get(customer="acme") == []  # review stores nothing
    r = review(c, "acme", RULES, action="apply")
    assert r.status_code == 303
    assert r.headers["location"] == f"{C}/customers/acme?notice=imported&what=2+objects"
    stored = {s.name: s for s in env.store.get(customer="acme")}
    assert sorted(stored) == ["acme-cpu-hot", "acme-disk-almost-full"]
    assert stored["acme-disk-almost-full"].spec["severity"] == "critical"  # page → critical
    audit = env.store.history(customer="acme")
    assert {(a.actor, a.source) for a in audit} == {("acme-team", "console")}
    notice = assert_page(c.get(r.headers["location"]))
    assert "2 objects imported." in notice
    # The same text again: nothing would change, and no Apply button is offered.
    again = assert_page(review(c, "acme", RULES))
    assert "Review: 0 changes, 1 refused" in again
    assert 'value="apply"' not in again


def test_import_page_of_another_customer_is_404(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    assert c.get(f"{C}/customers/globex/import").status_code == 404
    page = f"{C}/customers/globex/import"
    token = csrf_of(c.get(f"{C}/customers/acme/import").text)
    r = c.post(page, data={"csrf": token, "rules": RULES, "action": "apply"})
    assert r.status_code == 404
    assert env.store.get(customer="globex") == []


def test_import_nothing_convertible_and_bad_yaml(env: ApiEnv) -> None:
    c = client(env, ADMIN_TOKEN)
    text = html.unescape(assert_page(review(c, "acme", "groups: [", action="apply"), 422))
    assert "nothing could be converted" in text
    text = html.unescape(assert_page(review(c, "acme", "just text"), 200))
    assert "Review: 0 changes, 1 refused" in text


def preview(c, cid: str, form: dict[str, str], name: str | None = None):  # type: ignore[no-untyped-def]
    page = (
        f"{C}/customers/{cid}/new-alert" if name is None else f"{C}/customers/{cid}/alerts/{name}"
    )
    token = csrf_of(c.get(page).text)
    action = f"{C}/customers/{cid}/alert-preview" if name is None else f"{page}/preview"
    return c.post(action, data={"csrf": token, **form}, follow_redirects=False)


def test_preview_button_shows_the_series_and_keeps_the_form(tmp_path: Path) -> None:
    with prometheus_env(tmp_path) as (env, _):
        c = client(env, ACME_TOKEN)
        form_page = assert_page(c.get(f"{C}/customers/acme/new-alert"))
        assert f'formaction="{C}/customers/acme/alert-preview">Preview</button>' in form_page
        expr = 'node_filesystem_avail_ratio{customer_id="acme"} < 0.9'
        text = assert_page(preview(c, "acme", alert_form("DiskLow", expr=expr)))
        assert "2 series match now: 2 alerts would be pending" in text
        # Expanded by Prometheus' engine: $labels.instance is the scraped target's address.
        assert len(re.findall(r"<strong>summary</strong>: 127\.0\.0\.1:\d+ is busy</p>", text)) == 2
        bare = assert_page(preview(c, "acme", alert_form("DiskLow", expr=expr, summary="")))
        assert "2 series match now" in bare and 'class="annotation"' not in bare
        assert html.unescape(text).count('mountpoint="') == 2
        assert 'value="DiskLow"' in text  # what was typed stays
        assert env.store.get(customer="acme") == []  # nothing stored
        # The isolation check first: the message on the expression's field, nothing run.
        leaky = alert_form("DiskLow", expr="node_filesystem_avail_ratio < 0.9")
        text = assert_page(preview(c, "acme", leaky), 422)
        assert field_errors(text, "expr") == [
            'spec.expr: selector node_filesystem_avail_ratio{} has no customer_id="acme" '
            'matcher; add customer_id="acme" inside its braces'
        ]
        assert "Nothing was evaluated: fix the problems above first." in text
        none = alert_form("DiskLow", expr='node_filesystem_avail_ratio{customer_id="acme"} < 0')
        assert "No series match now: the alert would not fire." in assert_page(
            preview(c, "acme", none)
        )

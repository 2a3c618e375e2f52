"""The console's receiver form with time intervals, mute/active names and inhibit rules
(issue 15 §2, §3): created from the form, kept unchanged by an edit that does not touch
them (no new generation), and every refusal on the field it is about, in the core's words."""

from __future__ import annotations

from markupsafe import escape

from alertplane.console import receiver_form
from tests.integration.test_console_receivers import flat
from tests.support.api_env import ACME_TOKEN, ApiEnv
from tests.support.console import (
    C,
    assert_page,
    client,
    env,
    field_errors,
    post,
    receiver_form_data,
)

__all__ = ["env"]  # fixtures
BASE = f"{C}/customers/acme"
NEW = f"{BASE}/new-receiver"
INTERVALS = """- name: business-hours
  timeIntervals:
  - times: [{startTime: "09:00", endTime: "17:00"}]
    weekdays: ["monday:friday"]
    location: Europe/Berlin
"""
RULES = """- sourceMatch: [{name: alertname, value: DatabaseDown}]
  targetMatch: [{name: severity, value: "warning|info", matchType: "=~"}]
  equal: [service]
"""


FOREIGN = (
    "- sourceMatch: [{name: customer_id, value: globex}]\n  targetMatch: [{name: a, value: b}]"
)


def test_create_edit_keeps_intervals_and_rules(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    page = assert_page(c.get(NEW))
    for field in (
        "timeIntervals",
        "inhibitRules",
        "route-muteTimeIntervals",
        "route-activeTimeIntervals",
    ):
        assert f'<label for="f-{field}">' in page
    form = receiver_form_data(
        "hours",
        timeIntervals=INTERVALS,
        inhibitRules=RULES,
        **{"route-activeTimeIntervals": "business-hours"},
    )
    r = post(c, NEW, NEW, form)
    assert r.status_code == 303, r.text[:2000]
    stored = env.store.find_named("CustomerReceiver", "acme", "hours")
    assert stored is not None
    assert stored.spec["timeIntervals"] == [
        {
            "name": "business-hours",
            "timeIntervals": [
                {
                    "times": [{"startTime": "09:00", "endTime": "17:00"}],
                    "weekdays": ["monday:friday"],
                    "daysOfMonth": [],
                    "months": [],
                    "years": [],
                    "location": "Europe/Berlin",
                }
            ],
        }
    ]
    assert stored.spec["inhibitRules"] == [
        {
            "sourceMatch": [{"name": "alertname", "value": "DatabaseDown", "matchType": "="}],
            "targetMatch": [{"name": "severity", "value": "warning|info", "matchType": "=~"}],
            "equal": ["service"],
        }
    ]
    assert stored.spec["route"]["activeTimeIntervals"] == ["business-hours"]
    # Sent back as the page shows it: nothing changes (no new generation, no audit row).
    edit = f"{BASE}/receivers/hours"
    page = assert_page(c.get(edit))
    assert "business-hours" in page and "DatabaseDown" in page
    before = len(env.store.history(customer="acme"))
    r = post(c, edit, edit, flat(receiver_form.values_of(stored.spec)))
    assert r.status_code == 303
    again = env.store.find_named("CustomerReceiver", "acme", "hours")
    assert again is not None and again.generation == stored.generation
    assert len(env.store.history(customer="acme")) == before


def test_refusals_are_on_their_fields(env: ApiEnv) -> None:
    c = client(env, ACME_TOKEN)
    cases = [
        (
            {"timeIntervals": "name: x"},
            "timeIntervals",
            "spec.timeIntervals: this is not a YAML list; write one '- ' item per entry "
            "(e.g. - name: business-hours)",
        ),
        (
            {"timeIntervals": "- [unclosed"},
            "timeIntervals",
            "spec.timeIntervals: line 2: invalid YAML, column 1: did not find expected ',' or "
            "']'; fix the YAML syntax (indentation, quoting, ':' after keys)",
        ),
        (
            {"route-muteTimeIntervals": "weekend"},
            "route-muteTimeIntervals",
            "spec.route.muteTimeIntervals[0]: unknown time interval 'weekend'; name one of this "
            "receiver's spec.timeIntervals (declared: none)",
        ),
        (
            {"inhibitRules": FOREIGN},
            "inhibitRules",
            "spec.inhibitRules[0].sourceMatch[0].name: inhibit rules are already limited to this "
            'customer; remove the matcher on customer_id: alertplane adds customer_id="acme" to '
            "both sides and customer_id to equal",
        ),
    ]
    for over, field, expected in cases:
        page = assert_page(post(c, NEW, NEW, receiver_form_data("bad", **over)), 422)
        got = field_errors(page, field)
        assert [g[: len(expected)] for g in got] == [expected], (field, got)
        for value in over.values():
            assert str(escape(value)) in page  # what was typed stays
    assert env.store.find_named("CustomerReceiver", "acme", "bad") is None

"""Inhibit rules and time intervals of a CustomerReceiver (issue 15 §2, §3): every refusal,
asserted as the exact line `validate` prints (model/am_primitives.py for the syntax,
validate/am_primitives.py for the rest)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import receiver
from tests.support.problems import lines

R = "CustomerReceiver acme/acme-oncall: "
P = "spec.timeIntervals[0].timeIntervals[0]"
SEV: dict[str, Any] = {"name": "severity", "value": "warning"}


def inhibit(**rule: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sourceMatch": [{"name": "severity", "value": "critical"}],
        "targetMatch": [SEV],
        "equal": ["alertname"],
    }
    return receiver(inhibitRules=[{**base, **rule}])


def period(**fields: Any) -> dict[str, Any]:
    times = [{"startTime": "09:00", "endTime": "17:00"}]
    return receiver(timeIntervals=[{"name": "biz", "timeIntervals": [{"times": times, **fields}]}])


VALID = [
    inhibit(),
    inhibit(sourceMatch=[{"name": "alertname", "value": "Down.*", "matchType": "=~"}]),
    inhibit(targetMatch=[{"name": "team", "value": "db", "matchType": "!="}], equal=[]),
    inhibit(equal=["customer_id", "service"]),  # customer_id in equal: already there, allowed
    period(weekdays=["monday:friday", "sunday"], location="Europe/Berlin"),
    period(daysOfMonth=["1:7", "-1", "-7:-1"], months=["january:march", "12"], years=["2026:2027"]),
    period(times=[{"startTime": "00:00", "endTime": "24:00"}], location="UTC"),
    receiver(timeIntervals=[{"name": "always", "timeIntervals": [{}]}]),
    receiver(
        timeIntervals=[
            {"name": "biz", "timeIntervals": [{"weekdays": ["monday:friday"]}]},
            {"name": "weekend", "timeIntervals": [{"weekdays": ["saturday:sunday"]}]},
        ],
        route={"muteTimeIntervals": ["weekend"], "activeTimeIntervals": ["biz"]},
    ),
]


@pytest.mark.parametrize("doc", VALID)
def test_valid(doc: dict[str, Any]) -> None:
    assert lines(doc) == []


CASES = [
    (
        "source-customer-id",
        inhibit(sourceMatch=[{"name": "customer_id", "value": "globex"}]),
        "spec.inhibitRules[0].sourceMatch[0].name: inhibit rules are already limited to this "
        'customer; remove the matcher on customer_id: alertplane adds customer_id="acme" to '
        "both sides and customer_id to equal",
    ),
    (
        "target-customer-id-regex",
        inhibit(targetMatch=[SEV, {"name": "customer_id", "value": ".*", "matchType": "=~"}]),
        "spec.inhibitRules[0].targetMatch[1].name: inhibit rules are already limited to this "
        'customer; remove the matcher on customer_id: alertplane adds customer_id="acme" to '
        "both sides and customer_id to equal",
    ),
    (
        "empty-source",
        inhibit(sourceMatch=[]),
        "spec.inhibitRules[0].sourceMatch: must not be empty; give at least one value",
    ),
    (
        "bad-match-type",
        inhibit(targetMatch=[{"name": "a", "value": "b", "matchType": "~"}]),
        "spec.inhibitRules[0].targetMatch[0].matchType: '~' is not allowed; use '=', '!=', "
        "'=~' or '!~'",
    ),
    (
        "bad-equal",
        inhibit(equal=["__name__"]),
        "spec.inhibitRules[0].equal[0]: '__name__' is not a valid label name; use letters, "
        "digits and '_', not starting with a digit or '__', at most 128 characters",
    ),
    (
        "reversed-times",
        period(times=[{"startTime": "17:00", "endTime": "09:00"}]),
        f"{P}.times[0]: startTime 17:00 is not before endTime 09:00; a range within one day, "
        "e.g. 09:00 to 17:00; split one crossing midnight into two (22:00-24:00 and 00:00-06:00)",
    ),
    (
        "bad-time",
        period(times=[{"startTime": "9:00", "endTime": "17:00"}]),
        f"{P}.times[0].startTime: '9:00' is not a time of day; HH:MM from 00:00 to 24:00, "
        "e.g. 09:00",
    ),
    (
        "bad-weekday",
        period(weekdays=["Monday"]),
        f"{P}.weekdays[0]: 'Monday' is not a weekday or range; lower-case English names, e.g. "
        "monday or monday:friday",
    ),
    (
        "bad-day",
        period(daysOfMonth=["0"]),
        f"{P}.daysOfMonth[0]: '0' is not a day of the month or range; 1 to 31, or -1 for the "
        "last day, -2 the one before, …; e.g. 1:7 or -1",
    ),
    (
        "bad-month",
        period(months=["jan"]),
        f"{P}.months[0]: 'jan' is not a month or range; lower-case English names or 1 to 12, "
        "e.g. january:march",
    ),
    (
        "bad-year",
        period(years=["26"]),
        f"{P}.years[0]: '26' is not a year or range; four digits, e.g. 2026 or 2026:2027",
    ),
    (
        "unknown-zone",
        period(location="Europe/Pariss"),
        f"{P}.location: unknown time zone 'Europe/Pariss'; did you mean Europe/Paris, "
        "Europe/Warsaw, Europe/Madrid?",
    ),
    (
        "local-zone",
        period(location="Local"),
        f"{P}.location: 'Local' is the Alertmanager host's own time zone, which no customer "
        "knows; name the zone, e.g. Europe/Berlin, or leave location unset for UTC",
    ),
    (
        "path-zone",
        period(location="../../etc/passwd"),
        f"{P}.location: '../../etc/passwd' is not a time zone name; an IANA time zone such as "
        "Europe/Berlin or America/New_York",
    ),
    (
        "bad-name",
        receiver(timeIntervals=[{"name": "Biz_hours", "timeIntervals": [{}]}]),
        "spec.timeIntervals[0].name: 'Biz_hours' is not a valid time interval name; use "
        "lower-case letters, digits and '-', at most 63 characters (e.g. 'business-hours')",
    ),
    (
        "no-periods",
        receiver(timeIntervals=[{"name": "biz", "timeIntervals": []}]),
        "spec.timeIntervals[0].timeIntervals: must not be empty; give at least one value",
    ),
    (
        "declared-twice",
        receiver(
            timeIntervals=[
                {"name": "biz", "timeIntervals": [{}]},
                {"name": "biz", "timeIntervals": [{}]},
            ]
        ),
        "spec.timeIntervals[1].name: time interval 'biz' is declared twice; give each time "
        "interval of the receiver its own name",
    ),
    (
        "unknown-none-declared",
        receiver(route={"muteTimeIntervals": ["biz"]}),
        "spec.route.muteTimeIntervals[0]: unknown time interval 'biz'; name one of this "
        "receiver's spec.timeIntervals (declared: none)",
    ),
    (
        "unknown-active",
        receiver(
            timeIntervals=[{"name": "biz", "timeIntervals": [{}]}],
            route={"activeTimeIntervals": ["globex/oncall/biz"]},
        ),
        "spec.route.activeTimeIntervals[0]: unknown time interval 'globex/oncall/biz'; name "
        "one of this receiver's spec.timeIntervals (declared: biz)",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refusal(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [R + expected]


def test_too_many_inhibit_rules() -> None:
    rule = inhibit()["spec"]["inhibitRules"][0]
    assert lines(receiver(inhibitRules=[rule] * 17)) == [
        R + "spec.inhibitRules: too many items (17): at most 16; remove some items"
    ]

"""The body of a silence, checked before Alertmanager is asked: the scope is the path's
customer, a customer's matchers can only narrow it, and every bound answers with its
field and hint (exact messages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alertplane.errors import Invalid
from alertplane.service import silence_body
from alertplane.service.silence_body import new_end, new_silence, stamp
from alertplane.service.silences import owner

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
ACME = {"name": "customer_id", "value": "acme", "isRegex": False, "isEqual": True}


def body(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "matchers": [{"name": "alertname", "value": "DiskFull"}],
        "comment": "maintenance",
        "duration": "2h",
    }
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def problems(customer: str, data: Any) -> list[str]:
    with pytest.raises(Invalid) as caught:
        new_silence(customer, data, NOW)
    return [str(p) for p in caught.value.problems]


def test_the_customer_matcher_is_added_first_and_the_times_follow() -> None:
    new = new_silence("acme", body(), NOW)
    assert new.matchers == [
        ACME,
        {"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True},
    ]
    assert (new.starts, new.ends, new.comment) == (NOW, NOW + timedelta(hours=2), "maintenance")
    assert stamp(new.ends) == "2026-12-07T18:00:00.000Z"


def test_the_customers_own_equal_matcher_is_accepted_once() -> None:
    new = new_silence("acme", body(matchers=[ACME, {"name": "severity", "value": "page"}]), NOW)
    assert [m["name"] for m in new.matchers] == ["customer_id", "severity"]


@pytest.mark.parametrize(
    "matcher",
    [
        {"name": "customer_id", "value": "globex"},
        {"name": "customer_id", "value": "acme", "isRegex": True},
        {"name": "customer_id", "value": "acme|globex", "isRegex": True},
        {"name": "customer_id", "value": "acme", "isEqual": False},
        {"name": "customer_id", "value": ".*", "isRegex": True, "isEqual": False},
    ],
)
def test_a_matcher_that_could_widen_the_scope_is_refused(matcher: dict[str, Any]) -> None:
    assert problems("acme", body(matchers=[{"name": "alertname", "value": "X"}, matcher])) == [
        'matchers[1]: a matcher on customer_id must be customer_id="acme" (equal, not a '
        'regex); leave it out; alertplane adds customer_id="acme" to every silence'
    ]


def test_only_the_customer_matcher_is_not_enough() -> None:
    assert problems("acme", body(matchers=[ACME])) == [
        'matchers: needs a matcher besides customer_id="acme"; to silence every alert of the '
        'customer say so: {"name": "alertname", "value": ".+", "isRegex": true}'
    ]


def test_every_problem_is_named_by_its_field() -> None:
    data = {
        "matchers": [{"name": "__name__", "value": 3, "isRegex": "yes", "extra": 1}, "x"],
        "comment": " ",
        "endsAt": "tomorrow",
        "colour": "red",
    }
    assert problems("acme", data) == [
        "colour: unknown field; send only matchers, comment, startsAt, endsAt, duration"
    ]
    del data["colour"]
    assert problems("acme", data) == [
        "matchers[0].extra: unknown field; send name, value, isRegex, isEqual",
        "matchers[0].name: expected a label name; [a-zA-Z_][a-zA-Z0-9_]*, not __*",
        "matchers[0].value: expected a string of ≤ 1024 characters",
        "matchers[0].isRegex: expected true or false",
        'matchers[1]: expected an object; {"name": ..., "value": ...}',
        "comment: required; say why the alerts are silenced",
        "endsAt: expected an RFC 3339 time with its offset; e.g. 2026-12-07T18:00:00Z",
    ]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"duration": None},
            'endsAt: give exactly one of endsAt and duration; e.g. "duration": "2h"',
        ),
        (
            {"endsAt": "2026-12-07T17:00:00Z"},
            'endsAt: give exactly one of endsAt and duration; e.g. "duration": "2h"',
        ),
        ({"duration": "0s"}, 'duration: expected a positive duration; e.g. "30m", "2h", "1d"'),
        ({"duration": "2 hours"}, 'duration: expected a positive duration; e.g. "30m", "2h", "1d"'),
        (
            {"duration": "91d"},
            "duration: a silence lasts at most 90 days; silence for less, or fix the alert",
        ),
        (
            {"duration": None, "endsAt": "2026-12-07T15:00:00Z"},
            "endsAt: must be after the start and now; pick a later time",
        ),
        (
            {"duration": None, "endsAt": "2026-12-07T18:00:00"},
            "endsAt: expected an RFC 3339 time with its offset; e.g. 2026-12-07T18:00:00Z",
        ),
        (
            {"startsAt": "2027-06-01T00:00:00Z"},
            "startsAt: more than 90 days ahead; start it sooner",
        ),
        ({"comment": "x" * 2049}, "comment: longer than 2048 characters; shorten it"),
        (
            {"matchers": [{"name": f"l{i}", "value": "v"} for i in range(17)]},
            "matchers: more than 16 matchers; use fewer",
        ),
        (
            {"matchers": []},
            'matchers: expected a non-empty list of matchers; e.g. [{"name": "alertname", '
            '"value": "HighErrorRate"}]',
        ),
        (
            {"comment": "a\x00b"},
            "comment: contains a NUL character (U+0000) at character 2 of 3 ('a\\x00b'), which "
            "no database stores; remove it",
        ),
    ],
)
def test_bounds_and_shapes(over: dict[str, Any], message: str) -> None:
    assert message in problems("acme", body(**over))


def test_a_body_that_is_not_an_object() -> None:
    assert problems("acme", [1]) == [
        'expected a JSON object; send {"matchers": [...], "comment": ..., "duration": "2h"}'
    ]


def test_a_future_start_makes_the_duration_count_from_it() -> None:
    new = new_silence("acme", body(startsAt="2026-12-08T00:00:00+01:00"), NOW)
    assert new.starts == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert new.ends == datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def test_an_extension_counts_its_length_from_the_silences_start() -> None:
    starts = NOW - timedelta(days=89)
    assert new_end({"duration": "12h"}, starts, NOW) == NOW + timedelta(hours=12)
    with pytest.raises(Invalid) as caught:
        new_end({"duration": "2d"}, starts, NOW)
    assert [str(p) for p in caught.value.problems] == [
        "duration: a silence lasts at most 90 days; silence for less, or fix the alert"
    ]
    with pytest.raises(Invalid) as caught:
        new_end({"endsAt": "2026-12-07T15:59:00Z", "matchers": []}, starts, NOW)
    assert [str(p) for p in caught.value.problems] == [
        "matchers: unknown field; send only endsAt, duration"
    ]


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ([ACME, {"name": "alertname", "value": "X"}], "acme"),
        ([{**ACME, "isRegex": True}], None),
        ([{**ACME, "isEqual": False}], None),
        ([ACME, {**ACME, "value": "globex"}], None),  # two scopes: nobody's
        ([{"name": "alertname", "value": "X"}], None),
        ("nonsense", None),
    ],
)
def test_the_owner_of_a_silence_is_its_one_equal_customer_matcher(
    matchers: Any, expected: str | None
) -> None:
    assert owner({"matchers": matchers}) == expected


def test_bounds_are_what_the_docs_say() -> None:
    assert (silence_body.MAX_MATCHERS, silence_body.MAX_VALUE, silence_body.MAX_COMMENT) == (
        16,
        1024,
        2048,
    )

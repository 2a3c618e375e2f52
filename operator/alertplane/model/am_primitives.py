"""Alertmanager primitives a customer declares on a CustomerReceiver: inhibit rules and
named time intervals (issue 15 §2, §3).

The shapes are Alertmanager 0.25's (`inhibit_rules`, `time_intervals`) by camelCase names,
which are also prometheus-operator's AlertmanagerConfig names. Customer scoping is added
when rendering (render/alertmanager.py): nothing here can name another customer.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from .common import (
    DNS_LABEL_RE,
    MAX_ENTRIES,
    LabelName,
    LabelValue,
    Strict,
    fail,
    is_dns_label,
    shown,
)

MAX_INHIBIT_RULES = 16  # per receiver: Alertmanager checks every rule for every alert
MAX_INHIBIT_MATCHERS = 16
MAX_TIME_INTERVALS = 16  # named intervals per receiver
MAX_PERIODS = 16  # periods per named interval, and entries per list of a period
MAX_ITEM = 64  # one time, range or zone name

MatchType = Literal["=", "!=", "=~", "!~"]

_TIME_RE = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_WEEKDAY = "(sunday|monday|tuesday|wednesday|thursday|friday|saturday)"
WEEKDAY_RE = f"^{_WEEKDAY}(:{_WEEKDAY})?$"
_DAY = "-?([1-9]|[12][0-9]|3[01])"
DAY_OF_MONTH_RE = f"^{_DAY}(:{_DAY})?$"
_MONTH = (
    "(january|february|march|april|may|june|july|august|september|october|november|december"
    "|[1-9]|1[0-2])"
)
MONTH_RE = f"^{_MONTH}(:{_MONTH})?$"
YEAR_RE = r"^[0-9]{4}(:[0-9]{4})?$"
# An IANA zone name (Go's time.LoadLocation refuses '..' and absolute paths; this pattern
# has neither). Whether the zone exists is validate/am_primitives.py's and amtool's say.
LOCATION_RE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"
INTERVAL_NAME_HINT = (
    "use lower-case letters, digits and '-', at most 63 characters (e.g. 'business-hours')"
)


class LabelMatcher(Strict):
    """One label matcher (prometheus-operator's Matcher shape)."""

    name: LabelName
    value: LabelValue = ""
    match_type: MatchType = Field("=", description="=, !=, =~ or !~ (regexes are anchored).")


class InhibitRule(Strict):
    """While an alert matching `sourceMatch` fires, alerts matching `targetMatch` with the
    same values of the `equal` labels are not notified. Both sides are limited to this
    customer's alerts (alertplane adds customer_id="<id>" to both and customer_id to equal)."""

    source_match: list[LabelMatcher] = Field(
        min_length=1, max_length=MAX_INHIBIT_MATCHERS, description="The inhibiting alerts."
    )
    target_match: list[LabelMatcher] = Field(
        min_length=1, max_length=MAX_INHIBIT_MATCHERS, description="The inhibited alerts."
    )
    equal: list[LabelName] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Labels whose values must be equal on source and target.",
    )


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _syntax(pattern: str, what: str, hint: str) -> AfterValidator:
    """Refuses a string not of this syntax with a message saying what it should be."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > MAX_ITEM or compiled.fullmatch(value) is None:
            raise fail(f"{shown(value)} is not {what}", hint)
        return value

    return AfterValidator(check)


def _schema(pattern: str) -> Any:
    """The pattern in the JSON schema too, so the CRD refuses it at admission."""
    return Field(max_length=MAX_ITEM, pattern=pattern, json_schema_extra={"pattern": pattern})


Time = Annotated[
    str,
    _syntax(_TIME_RE, "a time of day", "HH:MM from 00:00 to 24:00, e.g. 09:00"),
    _schema(_TIME_RE),
]
Weekday = Annotated[
    str,
    _syntax(
        WEEKDAY_RE, "a weekday or range", "lower-case English names, e.g. monday or monday:friday"
    ),
    _schema(WEEKDAY_RE),
]
DayOfMonth = Annotated[
    str,
    _syntax(
        DAY_OF_MONTH_RE,
        "a day of the month or range",
        "1 to 31, or -1 for the last day, -2 the one before, …; e.g. 1:7 or -1",
    ),
    _schema(DAY_OF_MONTH_RE),
]
Month = Annotated[
    str,
    _syntax(
        MONTH_RE, "a month or range", "lower-case English names or 1 to 12, e.g. january:march"
    ),
    _schema(MONTH_RE),
]
Year = Annotated[
    str,
    _syntax(YEAR_RE, "a year or range", "four digits, e.g. 2026 or 2026:2027"),
    _schema(YEAR_RE),
]
Location = Annotated[
    str,
    _syntax(
        LOCATION_RE,
        "a time zone name",
        "an IANA time zone such as Europe/Berlin or America/New_York",
    ),
    _schema(LOCATION_RE),
]


class TimeRange(Strict):
    start_time: Time = Field(description="HH:MM, inclusive.")
    end_time: Time = Field(description="HH:MM (24:00 allowed), exclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        # Alertmanager refuses it too, but only as one line about the whole configuration.
        if _minutes(self.start_time) >= _minutes(self.end_time):
            raise fail(
                f"startTime {self.start_time} is not before endTime {self.end_time}",
                "a range within one day, e.g. 09:00 to 17:00; split one crossing midnight "
                "into two (22:00-24:00 and 00:00-06:00)",
            )
        return self


class TimePeriod(Strict):
    """Alertmanager's time_interval entry: a time matches when every list that is set
    matches (an empty list matches always)."""

    times: list[TimeRange] = Field(default_factory=list, max_length=MAX_PERIODS)
    weekdays: list[Weekday] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. monday:friday."
    )
    days_of_month: list[DayOfMonth] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. 1:7, -1 (the last day)."
    )
    months: list[Month] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. january:march, 12."
    )
    years: list[Year] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. 2026:2027."
    )
    location: Location | None = Field(
        None, description="IANA time zone of the times and days, e.g. Europe/Berlin (UTC if unset)."
    )


def _check_interval_name(value: str) -> str:
    if not is_dns_label(value):
        raise fail(f"{shown(value)} is not a valid time interval name", INTERVAL_NAME_HINT)
    return value


class NamedTimeInterval(Strict):
    name: Annotated[
        str,
        AfterValidator(_check_interval_name),
        Field(
            pattern=DNS_LABEL_RE,
            max_length=63,
            json_schema_extra={"pattern": DNS_LABEL_RE},
            description="Referenced by spec.route.muteTimeIntervals / activeTimeIntervals.",
        ),
    ]
    time_intervals: list[TimePeriod] = Field(min_length=1, max_length=MAX_PERIODS)

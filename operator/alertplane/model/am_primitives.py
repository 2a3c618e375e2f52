"""Alertmanager primitives a customer declares on a CustomerReceiver: inhibit rules and
named time intervals (issue 15 §2, §3).

The shapes are Alertmanager 0.25's (`inhibit_rules`, `time_intervals`) by camelCase names,
which are also prometheus-operator's AlertmanagerConfig names. Customer scoping is added
when rendering (render/alertmanager.py): nothing here can name another customer.
"""

from __future__ import annotations

from typing import Annotated, Literal

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
MAX_LOCATION = 64

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


class TimeRange(Strict):
    start_time: Annotated[str, Field(pattern=_TIME_RE, description="HH:MM, inclusive.")]
    end_time: Annotated[
        str, Field(pattern=_TIME_RE, description="HH:MM (24:00 allowed), exclusive.")
    ]

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
    weekdays: list[Annotated[str, Field(pattern=WEEKDAY_RE, max_length=32)]] = Field(
        default_factory=list,
        max_length=MAX_PERIODS,
        description="e.g. monday:friday, saturday (lower case).",
    )
    days_of_month: list[Annotated[str, Field(pattern=DAY_OF_MONTH_RE, max_length=32)]] = Field(
        default_factory=list,
        max_length=MAX_PERIODS,
        description="e.g. 1:7, -1 (the last day).",
    )
    months: list[Annotated[str, Field(pattern=MONTH_RE, max_length=32)]] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. january:march, 12."
    )
    years: list[Annotated[str, Field(pattern=YEAR_RE, max_length=32)]] = Field(
        default_factory=list, max_length=MAX_PERIODS, description="e.g. 2026:2027."
    )
    location: Annotated[str, Field(pattern=LOCATION_RE, max_length=MAX_LOCATION)] | None = Field(
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

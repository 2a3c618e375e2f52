"""What a customer may ask to silence: the body of a new silence and of an extension,
checked field by field (pure: no Alertmanager, no store).

The scope is alertplane's, never the customer's: every silence carries the matcher
`customer_id="<id>"` of the path's customer, added here. A customer's own matcher on
`customer_id` is refused unless it is exactly that one (equal, not a regex): a regex or a
negative matcher on customer_id, or another customer's id, could only widen the silence or
be a mistake. Other matchers can only narrow it (Alertmanager ANDs matchers), so they are
free, regexes and negations included; Alertmanager itself checks its regex syntax (RE2).

Bounds keep one customer from starving Alertmanager (every alert is checked against every
silence): matchers per silence, their sizes, the comment, how long a silence lasts and how
far ahead it may start; the number of silences per customer is bounded in silences.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import Invalid, Problem
from ..model.common import duration_ms, is_duration, is_label_name
from .objects import bad_text

TENANT_LABEL = "customer_id"
MAX_MATCHERS = 16
MAX_VALUE = 1024
MAX_COMMENT = 2048
MAX_LENGTH = timedelta(days=90)  # how long one silence may last
MAX_AHEAD = timedelta(days=90)  # how far ahead it may start
_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)$", re.DOTALL)
OPERATORS = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
CREATE_FIELDS = ("matchers", "comment", "startsAt", "endsAt", "duration")
EXTEND_FIELDS = ("endsAt", "duration")


@dataclass(frozen=True)
class NewSilence:
    matchers: list[dict[str, Any]]  # the customer's, customer_id="<id>" first
    comment: str
    starts: datetime
    ends: datetime


def tenant_matcher(customer: str) -> dict[str, Any]:
    return {"name": TENANT_LABEL, "value": customer, "isRegex": False, "isEqual": True}


def stamp(at: datetime) -> str:
    """Alertmanager's time format (RFC 3339, UTC, milliseconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time with its offset (or Z); None for anything else."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def new_silence(customer: str, body: Any, now: datetime) -> NewSilence:
    """The silence `body` asks for, scoped to `customer`; `Invalid` with every problem."""
    problems = _shape(
        body, CREATE_FIELDS, 'send {"matchers": [...], "comment": ..., "duration": "2h"}'
    )
    if problems:
        raise Invalid(problems)
    matchers, problems = _matchers(customer, body.get("matchers"))
    comment = body.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        problems.append(Problem("comment", "required", "say why the alerts are silenced"))
    elif len(comment) > MAX_COMMENT:
        problems.append(Problem("comment", f"longer than {MAX_COMMENT} characters", "shorten it"))
    starts = now
    if "startsAt" in body:
        starts = _time(body["startsAt"], "startsAt", problems) or now
        if starts > now + MAX_AHEAD:
            problems.append(
                Problem("startsAt", f"more than {MAX_AHEAD.days} days ahead", "start it sooner")
            )
        starts = max(starts, now)  # Alertmanager starts a silence in the past now anyway
    ends = _end(body, starts, problems)
    if problems:
        raise Invalid(problems)
    assert isinstance(comment, str) and ends is not None
    return NewSilence([tenant_matcher(customer), *matchers], comment, starts, ends)


def new_end(body: Any, starts: datetime, now: datetime) -> datetime:
    """The end an extension asks for (`endsAt`, or `duration` from now): after the
    silence's start and now, and within MAX_LENGTH of its start."""
    problems = _shape(
        body, EXTEND_FIELDS, 'send {"endsAt": "<RFC 3339 time>"} or {"duration": "2h"}'
    )
    if problems:
        raise Invalid(problems)
    ends = _end(body, max(starts, now), problems, length_from=starts)
    if problems:
        raise Invalid(problems)
    assert ends is not None
    return ends


def _shape(body: Any, fields: tuple[str, ...], example: str) -> list[Problem]:
    if not isinstance(body, dict):
        return [Problem("", "expected a JSON object", example)]
    problems = [
        Problem(str(key), "unknown field", f"send only {', '.join(fields)}")
        for key in body
        if key not in fields
    ]
    return problems or bad_text(body, root="")


def _time(value: Any, path: str, problems: list[Problem]) -> datetime | None:
    at = parse_time(value) if isinstance(value, str) else None
    if at is None:
        problems.append(
            Problem(path, "expected an RFC 3339 time with its offset", "e.g. 2026-12-07T18:00:00Z")
        )
    return at


def _end(
    body: dict[str, Any],
    after: datetime,
    problems: list[Problem],
    length_from: datetime | None = None,
) -> datetime | None:
    """`endsAt`, or `duration` counted from `after`; exactly one of them."""
    if ("endsAt" in body) == ("duration" in body):
        problems.append(
            Problem("endsAt", "give exactly one of endsAt and duration", 'e.g. "duration": "2h"')
        )
        return None
    if "duration" in body:
        value = body["duration"]
        length = _duration(value) if isinstance(value, str) else None
        if length is None or length <= timedelta(0):
            problems.append(
                Problem("duration", "expected a positive duration", 'e.g. "30m", "2h", "1d"')
            )
            return None
        ends = after + length
    else:
        at = _time(body["endsAt"], "endsAt", problems)
        if at is None:
            return None
        ends = at
        if ends <= after:
            problems.append(
                Problem("endsAt", "must be after the start and now", "pick a later time")
            )
            return None
    if ends - (length_from or after) > MAX_LENGTH:
        problems.append(
            Problem(
                "duration" if "duration" in body else "endsAt",
                f"a silence lasts at most {MAX_LENGTH.days} days",
                "silence for less, or fix the alert",
            )
        )
        return None
    return ends


# Longer than any silence may last from any start it may have: refused as too long. A
# duration is clamped to it first: `99999999999y` overflows timedelta, `9000y` the date.
_TOO_LONG = MAX_LENGTH + MAX_AHEAD + timedelta(days=1)


def _duration(text: str) -> timedelta | None:
    if len(text) > 32 or not is_duration(text):
        return None
    return timedelta(milliseconds=min(duration_ms(text), _TOO_LONG // timedelta(milliseconds=1)))


def _matchers(customer: str, value: Any) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The customer's matchers (their own customer_id one dropped), and the problems."""
    if not isinstance(value, list) or not value:
        hint = 'e.g. [{"name": "alertname", "value": "HighErrorRate"}]'
        return [], [Problem("matchers", "expected a non-empty list of matchers", hint)]
    if len(value) > MAX_MATCHERS:
        return [], [Problem("matchers", f"more than {MAX_MATCHERS} matchers", "use fewer")]
    out: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for i, item in enumerate(value):
        matcher = _matcher(customer, item, f"matchers[{i}]", problems)
        if matcher is not None and matcher["name"] != TENANT_LABEL and matcher not in out:
            out.append(matcher)
    if not out and not problems:
        problems.append(
            Problem(
                "matchers",
                f'needs a matcher besides {TENANT_LABEL}="{customer}"',
                'to silence every alert of the customer say so: {"name": "alertname", '
                '"value": ".+", "isRegex": true}',
            )
        )
    return out, problems


def _matcher(customer: str, item: Any, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        problems.append(Problem(path, "expected an object", '{"name": ..., "value": ...}'))
        return None
    count = len(problems)
    for key in item:
        if key not in ("name", "value", "isRegex", "isEqual"):
            problems.append(
                Problem(f"{path}.{key}", "unknown field", "send name, value, isRegex, isEqual")
            )
    name, value = item.get("name"), item.get("value")
    regex, equal = item.get("isRegex", False), item.get("isEqual", True)
    if not isinstance(name, str) or not is_label_name(name):
        problems.append(
            Problem(f"{path}.name", "expected a label name", "[a-zA-Z_][a-zA-Z0-9_]*, not __*")
        )
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        problems.append(Problem(f"{path}.value", f"expected a string of ≤ {MAX_VALUE} characters"))
    for key, flag in (("isRegex", regex), ("isEqual", equal)):
        if not isinstance(flag, bool):
            problems.append(Problem(f"{path}.{key}", "expected true or false"))
    if len(problems) > count:
        return None
    matcher = {"name": name, "value": value, "isRegex": regex, "isEqual": equal}
    if name == TENANT_LABEL and matcher != tenant_matcher(customer):
        problems.append(
            Problem(
                path,
                f'a matcher on {TENANT_LABEL} must be {TENANT_LABEL}="{customer}" (equal, '
                "not a regex)",
                f'leave it out; alertplane adds {TENANT_LABEL}="{customer}" to every silence',
            )
        )
        return None
    return matcher


def parse_matcher(text: str) -> dict[str, Any] | None:
    """A matcher written as amtool and PromQL write it (`name=value`, `name!=value`,
    `name=~regex`, `name!~regex`; the value may be a double-quoted JSON string, which
    is how `matcher_text` writes it), as the API's matcher; None if it is none."""
    found = _MATCHER.match(text)
    if found is None:
        return None
    name, op, value = found.groups()
    if value.startswith('"'):
        try:
            unquoted = json.loads(value)
        except ValueError:
            return None
        if not isinstance(unquoted, str):
            return None
        value = unquoted
    return {"name": name, "value": value, "isRegex": "~" in op, "isEqual": op[0] == "="}


def matcher_text(matcher: dict[str, Any]) -> str:
    """`name="value"` (or !=, =~, !~): what `parse_matcher` reads back."""
    op = OPERATORS[(bool(matcher.get("isRegex")), bool(matcher.get("isEqual", True)))]
    return f"{matcher['name']}{op}{json.dumps(matcher['value'], ensure_ascii=False)}"

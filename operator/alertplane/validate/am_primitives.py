"""Pure checks of a receiver's inhibit rules and time intervals (issue 15 §2, §3).

amtool checks the rendered configuration as a whole as well (validate/blame.py pins its
refusals on the receiver); these come first because they say which field and what to do,
and because two of them are about isolation or the shared configuration, not syntax:
a customer's own matcher on customer_id (scoping is alertplane's, never the customer's),
and a time zone the Alertmanager host may not know (one unknown zone refuses the shared
configuration for every customer if amtool's host happened to know it).
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo

from ..errors import Problem
from ..model import CustomerReceiverSpec
from ..model.am_primitives import LabelMatcher
from ..render.am_primitives import TENANT_LABEL

HOST_ZONES = ("Local", "localtime")


@functools.cache
def known_zones() -> frozenset[str]:
    """The IANA zones of this machine's tz database (Python's: system or tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def check_am_primitives(spec: CustomerReceiverSpec) -> list[Problem]:
    return [*_check_inhibits(spec), *_check_intervals(spec), *_check_references(spec)]


def _check_inhibits(spec: CustomerReceiverSpec) -> list[Problem]:
    problems: list[Problem] = []
    for i, rule in enumerate(spec.inhibit_rules):
        sides = (("sourceMatch", rule.source_match), ("targetMatch", rule.target_match))
        for side, matchers in sides:
            path = f"spec.inhibitRules[{i}].{side}"
            problems += _tenant_matchers(path, matchers, spec.customer_id)
    return problems


def _tenant_matchers(path: str, matchers: list[LabelMatcher], customer_id: str) -> list[Problem]:
    return [
        Problem(
            f"{path}[{j}].name",
            "inhibit rules are already limited to this customer",
            f'remove the matcher on customer_id: alertplane adds customer_id="{customer_id}" '
            "to both sides and customer_id to equal",
        )
        for j, m in enumerate(matchers)
        if m.name == TENANT_LABEL
    ]


def _check_intervals(spec: CustomerReceiverSpec) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, named in enumerate(spec.time_intervals):
        if named.name in seen:
            problems.append(
                Problem(
                    f"spec.timeIntervals[{i}].name",
                    f"time interval {named.name!r} is declared twice",
                    "give each time interval of the receiver its own name",
                )
            )
        seen.add(named.name)
        for j, period in enumerate(named.time_intervals):
            if period.location is not None:
                path = f"spec.timeIntervals[{i}].timeIntervals[{j}].location"
                problems += _check_location(path, period.location)
    return problems


def _check_location(path: str, location: str) -> list[Problem]:
    # Go's 'Local', and the tz database's `localtime` (a link to the host's /etc/localtime,
    # listed by zoneinfo.available_timezones and loaded by Go like any zone): the same zone.
    if location in HOST_ZONES:
        return [
            Problem(
                path,
                f"{location!r} is the Alertmanager host's own time zone, which no customer knows",
                "name the zone, e.g. Europe/Berlin, or leave location unset for UTC",
            )
        ]
    zones = known_zones()
    if location in zones:
        return []
    close = difflib.get_close_matches(location, sorted(zones), n=3)
    hint = "an IANA time zone such as Europe/Berlin"
    if close:
        hint = f"did you mean {', '.join(close)}?"
    return [Problem(path, f"unknown time zone {location!r}", hint)]


def _check_references(spec: CustomerReceiverSpec) -> list[Problem]:
    declared = [t.name for t in spec.time_intervals]
    known = ", ".join(declared) if declared else "none"
    problems: list[Problem] = []
    for field, names in (
        ("muteTimeIntervals", spec.route.mute_time_intervals),
        ("activeTimeIntervals", spec.route.active_time_intervals),
    ):
        for i, name in enumerate(names):
            if name not in declared:
                problems.append(
                    Problem(
                        f"spec.route.{field}[{i}]",
                        f"unknown time interval {name!r}",
                        f"name one of this receiver's spec.timeIntervals (declared: {known})",
                    )
                )
    return problems

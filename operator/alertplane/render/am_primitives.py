"""A customer's inhibit rules and time intervals, scoped to the customer (pure).

Isolation by construction, as data both writers share (Alertmanager's text form in
render/alertmanager.py, the AlertmanagerConfig in render/promop.py):

- every inhibit rule gets `customer_id="<id>"` first on BOTH sides and `customer_id` in
  `equal`, so a source alert of one customer can only ever inhibit alerts of the same
  customer (validate/am_primitives.py refuses a customer's own matcher on customer_id);
- a time interval is rendered under `<customerId>/<receiverName>/<name>` and a route
  refers only to its own receiver's names, so no customer can name, redefine or mute by
  another's interval (receiver names are unique per customer, names per receiver).
"""

from __future__ import annotations

from typing import Any

from ..model.am_primitives import InhibitRule, NamedTimeInterval, TimePeriod

TENANT_LABEL = "customer_id"

Matcher = tuple[str, str, str]  # label name, operator (= != =~ !~), value (unescaped)


def interval_name(customer_id: str, receiver: str, name: str) -> str:
    """The name a receiver's time interval has in Alertmanager's configuration."""
    return f"{customer_id}/{receiver}/{name}"


def scoped_inhibit(
    customer_id: str, rule: InhibitRule
) -> tuple[list[Matcher], list[Matcher], list[str]]:
    """(source matchers, target matchers, equal) of one rule, limited to the customer."""
    tenant: Matcher = (TENANT_LABEL, "=", customer_id)
    source = [tenant, *((m.name, m.match_type, m.value) for m in rule.source_match)]
    target = [tenant, *((m.name, m.match_type, m.value) for m in rule.target_match)]
    equal = [TENANT_LABEL, *dict.fromkeys(e for e in rule.equal if e != TENANT_LABEL)]
    return source, target, equal


def period_fields(period: TimePeriod) -> dict[str, Any]:
    """One period by Alertmanager's keys (only those that are set)."""
    out: dict[str, Any] = {}
    if period.times:
        out["times"] = [{"start_time": t.start_time, "end_time": t.end_time} for t in period.times]
    for key, values in (
        ("weekdays", period.weekdays),
        ("days_of_month", period.days_of_month),
        ("months", period.months),
        ("years", period.years),
    ):
        if values:
            out[key] = list(values)
    if period.location is not None:
        out["location"] = period.location
    return out


def time_interval_of(customer_id: str, receiver: str, named: NamedTimeInterval) -> dict[str, Any]:
    """One entry of Alertmanager's `time_intervals`."""
    return {
        "name": interval_name(customer_id, receiver, named.name),
        "time_intervals": [period_fields(p) for p in named.time_intervals],
    }

"""What only Alertmanager knows about time intervals and inhibit matchers (ranges that run
backwards, a regex RE2 refuses): amtool's own words, pinned on the receiver at fault, one
object at a time, and another customer's receiver in the same batch stays valid."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.render.platform import PlatformConfig
from tests.support.factories import receiver

HINT = "fix the receiver so Alertmanager 0.25 accepts it"


def _period(name: str, **period: Any) -> dict[str, Any]:
    return receiver("acme", name, timeIntervals=[{"name": "w", "timeIntervals": [period]}])


def test_amtool_refusals_land_on_their_receivers() -> None:
    regex = {"sourceMatch": [{"name": "a", "value": "(", "matchType": "=~"}],
             "targetMatch": [{"name": "b", "value": "x"}]}  # fmt: skip
    docs = [
        _period("weekdays", weekdays=["friday:monday"]),
        _period("months", months=["december:january"]),
        _period("days", daysOfMonth=["-1:5"]),
        _period("years", years=["2027:2026"]),
        receiver("acme", "regex", inhibitRules=[regex]),
        receiver("globex", "oncall", timeIntervals=[{"name": "w", "timeIntervals": [{}]}]),
    ]
    loaded = load_text(yaml.safe_dump_all(docs))
    outcome = evaluate(loaded.documents, PlatformConfig(), tools=True, earlier=loaded.problems)
    assert sorted(str(p) for p in outcome.problems) == sorted(
        f"CustomerReceiver acme/acme-{name}: spec: Alertmanager rejects the receiver: {why}; {HINT}"
        for name, why in (
            ("weekdays", "start day cannot be before end day"),
            ("months", "end month january is before start month december"),
            ("days", "end day must be negative if start day is negative"),
            ("years", "end year 2026 is before start year 2027"),
            ("regex", "error parsing regexp: missing closing ): `^(?:()$`"),
        )
    )
    assert [o.metadata.name for o in outcome.valid] == ["globex-oncall"]

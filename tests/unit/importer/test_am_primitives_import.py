"""alertmanager.yml's time intervals and inhibit rules → a customer's receivers
(importer/am_primitives.py): a route's own mute/active intervals go with its receiver;
an inhibit rule goes to the customer whose customer_id both its sides match; a rule
spanning customers is noted, never widened. Every manifest imported passes validation."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.importer.alerts import Options
from alertplane.importer.run import import_text
from alertplane.validate import parse_document

NIGHTS = [{"times": [{"start_time": "22:00", "end_time": "24:00"}], "location": "Europe/Berlin"}]
CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "routes": [
            {
                "matchers": ['customer_id="acme"'],
                "receiver": "acme-team",
                "mute_time_intervals": ["Night Shift"],
                "routes": [
                    {
                        "matchers": ["severity=critical"],
                        "receiver": "acme-pager",
                        "active_time_intervals": ["Night Shift", "missing"],
                    },
                ],
            },
            {"matchers": ['customer_id="globex"'], "receiver": "globex-hook"},
        ],
    },
    "receivers": [
        {"name": "default"},
        {"name": "acme-team", "webhook_configs": [{"url": "https://acme.example/t"}]},
        {"name": "acme-pager", "webhook_configs": [{"url": "https://acme.example/p"}]},
        {"name": "globex-hook", "webhook_configs": [{"url": "https://globex.example/h"}]},
    ],
    "time_intervals": [{"name": "Night Shift", "time_intervals": NIGHTS}],
    "inhibit_rules": [
        {
            "source_matchers": ['customer_id="acme"', 'alertname="DatabaseDown"'],
            "target_matchers": ['customer_id="acme"', 'severity=~"warning|info"'],
            "equal": ["customer_id", "service"],
        },
        {"source_match": {"customer_id": "globex", "severity": "critical"},
         "target_match": {"customer_id": "globex"}},
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"']},
        {"source_matchers": ['customer_id="acme"'], "target_matchers": ['customer_id="globex"']},
    ],
}  # fmt: skip
NIGHT = {
    "name": "night-shift",
    "timeIntervals": [
        {"times": [{"startTime": "22:00", "endTime": "24:00"}], "location": "Europe/Berlin"}
    ],
}
SPAN = (
    "not carried over: not limited to one customer (alertplane carries a rule whose both "
    'sides match customer_id="<id>")'
)


def _imported(options: Options) -> tuple[dict[str, dict[str, Any]], list[str]]:
    result = import_text(yaml.safe_dump(CONFIG), "am.yml", options)
    for manifest in result.manifests:
        obj, problems = parse_document(manifest)
        assert obj is not None and not problems, problems
    specs = {m["metadata"]["name"]: m["spec"] for m in result.manifests}
    return specs, [str(n) for n in result.notes]


def test_intervals_and_rules_go_to_their_customers() -> None:
    specs, notes = _imported(Options(customer_label="customer_id"))
    assert sorted(specs) == ["acme-pager", "acme-team", "globex-hook"]
    pager, team, hook = specs["acme-pager"], specs["acme-team"], specs["globex-hook"]
    assert pager["route"]["activeTimeIntervals"] == ["night-shift"]
    assert "muteTimeIntervals" not in pager["route"]  # Alertmanager does not pass it on
    assert pager["timeIntervals"] == [NIGHT]
    assert team["route"]["muteTimeIntervals"] == ["night-shift"] and team["timeIntervals"] == [
        NIGHT
    ]
    assert pager["inhibitRules"] == [
        {
            "sourceMatch": [{"name": "alertname", "value": "DatabaseDown", "matchType": "="}],
            "targetMatch": [{"name": "severity", "value": "warning|info", "matchType": "=~"}],
            "equal": ["service"],
        }
    ]
    assert "inhibitRules" not in team  # the first receiver carries them
    assert hook["inhibitRules"] == [
        {
            "sourceMatch": [{"name": "severity", "value": "critical", "matchType": "="}],
            "targetMatch": [{"name": "alertname", "value": "", "matchType": "!="}],
            "equal": [],
        }
    ]
    assert notes == [
        f"am.yml:1 (document 1) inhibit_rules[2]: {SPAN}",
        f"am.yml:1 (document 1) inhibit_rules[3]: {SPAN}",
        "am.yml:1 (document 1) route.routes[0].routes[0]: active_time_intervals 'missing' is "
        "not defined: not carried over",
    ]


def test_with_customer_every_rule_is_the_customers() -> None:
    specs, notes = _imported(Options(customer="acme"))
    first = next(iter(specs.values()))
    # The one rule not on customer_id; the others might widen without it.
    assert first["inhibitRules"] == [
        {
            "sourceMatch": [{"name": "severity", "value": "critical", "matchType": "="}],
            "targetMatch": [{"name": "severity", "value": "warning", "matchType": "="}],
            "equal": [],
        }
    ]
    assert [n for n in notes if "inhibit_rules" in n] == [
        f"am.yml:1 (document 1) inhibit_rules[{i}]: not carried over: it matches on customer_id"
        for i in (0, 1, 3)
    ]

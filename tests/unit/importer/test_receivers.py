"""alertmanager.yml → CustomerReceivers: the customer's subtree flattened into ordered
routes (children first, matchers joined, timers inherited), channels mapped, and what
alertplane cannot express refused or noted per item."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.importer.alerts import Options
from alertplane.importer.run import import_text
from alertplane.validate import parse_document

CONFIG = {
    "global": {"smtp_smarthost": "smtp:25"},
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [
            {
                "matchers": ['customer_id="acme"'],
                "receiver": "acme-team",
                "group_wait": "10s",
                "routes": [
                    {"match": {"severity": "critical"}, "receiver": "acme-pager", "continue": True},
                    {"matchers": ['severity=~"warning|info"', "team = db"], "receiver": "acme-db"},
                    {"matchers": ['service=~"db.*"'], "receiver": "acme-db"},
                ],
            },
            {"match": {"customer_id": "globex"}, "receiver": "globex-hook"},
        ],
    },
    "receivers": [
        {"name": "default"},
        {
            "name": "acme-team",
            "email_configs": [
                {
                    "to": "a@acme.example, b@acme.example",
                    "headers": {"Subject": "s", "X": "y"},
                    "smarthost": "other:25",
                    "send_resolved": True,
                }
            ],
        },
        {"name": "acme-pager", "pagerduty_configs": [{"routing_key": "k", "severity": "critical"}]},
        {
            "name": "acme-db",
            "slack_configs": [{"api_url": "https://hooks/x", "channel": "#db"}],
            "opsgenie_configs": [{"api_key": "x"}],
        },
        {"name": "globex-hook", "webhook_configs": [{"url": "https://globex.example/h"}]},
    ],
    "inhibit_rules": [{"source_matchers": ["a=b"]}],
}


def imported(options: Options) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    result = import_text(yaml.safe_dump(CONFIG), "am.yml", options)
    for manifest in result.manifests:
        obj, problems = parse_document(manifest)
        assert obj is not None and not problems, problems
    return result.manifests, [str(r) for r in result.refused], [str(n) for n in result.notes]


def test_each_customers_subtree_becomes_its_receivers() -> None:
    manifests, refused, notes = imported(Options(customer_label="customer_id"))
    specs = [(m["metadata"]["name"], m["spec"]) for m in manifests]
    assert specs == [
        (
            "acme-pager",
            {
                "customerId": "acme",
                "receiverName": "pager",
                "pagerduty": [{"routingKey": "k", "severity": "critical"}],
                "route": {
                    "priority": 10,
                    "match": {"severity": ["critical"]},
                    "continue": True,
                    "groupWait": "10s",
                },
            },
        ),
        (
            "acme-db",
            {
                "customerId": "acme",
                "receiverName": "db",
                "slack": [{"apiURL": "https://hooks/x", "channel": "#db"}],
                "route": {
                    "priority": 20,
                    "match": {"severity": ["warning", "info"], "labels": {"team": "db"}},
                    "groupWait": "10s",
                },
            },
        ),
        (
            "acme-team",
            {
                "customerId": "acme",
                "receiverName": "team",
                "email": [
                    {
                        "to": ["a@acme.example", "b@acme.example"],
                        "subjectTemplate": "s",
                        "sendResolved": True,
                    }
                ],
                "route": {"priority": 40, "groupWait": "10s"},
            },
        ),
        (
            "globex-hook",
            {
                "customerId": "globex",
                "receiverName": "hook",
                "webhook": [{"url": "https://globex.example/h"}],
                "route": {"priority": 10},
            },
        ),
    ]
    where = "am.yml:1 (document 1) route.routes[0].routes[2]"
    assert refused == [
        f'{where}: matcher service=~"db.*" cannot be expressed (alertplane routes match '
        "labels exactly, severity/category by list); route and receiver not imported"
    ]
    assert notes == [
        "am.yml:1 (document 1) inhibit_rules[0]: not carried over: not limited to one customer "
        '(alertplane carries a rule whose both sides match customer_id="<id>")',
        "am.yml:1 (document 1) receiver 'acme-db': opsgenie_configs not carried over: "
        "alertplane has no such integration",
        "am.yml:1 (document 1) receiver 'acme-team': email headers X not carried over",
        "am.yml:1 (document 1) receiver 'acme-team': email smarthost not carried over: set by "
        "the platform or not supported",
    ]


def test_with_customer_the_whole_tree_is_one_customers() -> None:
    manifests, _, _ = imported(Options(customer="acme"))
    assert {m["spec"]["customerId"] for m in manifests} == {"acme"}
    # The root's receiver comes last: the catch-all.
    assert manifests[-1]["spec"]["receiverName"] == "default"


def test_no_route_for_any_customer_is_refused() -> None:
    result = import_text(yaml.safe_dump(CONFIG), "am.yml", Options(customer_label="tenant"))
    assert [str(r) for r in result.refused] == [
        'am.yml:1 (document 1): no route matches tenant="<id>"; use --customer ID'
    ]

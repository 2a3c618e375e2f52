"""Valid CustomerReceivers pass the real amtool too (tools=True)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import MAIL, REF, platform_global, receiver
from tests.support.problems import lines


def test_the_factory_receiver_is_valid() -> None:
    assert lines(receiver(), tools=True) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"receiverName": "r" * 63},
        {"email": [{"to": ["ops@acme.example", "first.last+tag@sub.acme.example"]}]},
        {"slack": [{"apiURLSecretRef": REF, "channel": "#ops"}]},
        {"slack": [{"apiURL": "https://hooks.slack.com/services/T/B/X"}]},
        {"pagerduty": [{"routingKey": "k", "severity": "error"}]},
        {
            "pagerduty": [
                {"routingKeySecretRef": REF, "severity": '{{ or .CommonLabels.x "info" }}'}
            ]
        },
        {"webhook": [{"url": "https://h.example/a?b=c", "sendResolved": False}]},
        {"route": {"groupBy": ["..."]}},
        {"route": {"groupBy": ["alertname", "service"], "groupWait": "0s", "groupInterval": "5m"}},
        {"route": {"priority": -3, "continue": True, "repeatInterval": "1d12h"}},
        {"route": {"match": {"severity": ["critical"], "category": ["application"]}}},
        {"route": {"match": {"labels": {"team": "db", "service": ""}}}},
    ],
    ids=str,
)
def test_valid_values_pass(spec: dict[str, Any]) -> None:
    assert lines(receiver(**spec), tools=True) == []


def test_email_with_smtp_is_valid() -> None:
    platform = platform_global(smtp_smarthost="mail:25", smtp_from="alerts@x.example")
    assert lines(receiver(**MAIL), platform=platform, tools=True) == []

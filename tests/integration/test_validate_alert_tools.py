"""Valid CustomerAlerts pass the real promtool too (tools=True)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import alert
from tests.support.problems import lines


def test_the_factory_alert_is_valid() -> None:
    assert lines(alert(), tools=True) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"customerId": "a" * 63, "expr": f'up{{customer_id="{"a" * 63}"}} == 0'},
        {"customerId": "0", "expr": 'up{customer_id="0"} == 0'},
        {"alertName": "_x9"},
        {"urgency": "low", "enabled": False},
        {"for": "0", "keepFiringFor": "1h30m"},
        {"for": "7d", "keepFiringFor": "500ms"},
        {"labels": {"team": "a", "tier_1": "b"}},
        {"annotations": {"runbookUrl": "https://r.example/{{ $labels.alertname }}", "x": "y"}},
        {"annotations": {"runbookUrl": "{{ $labels.runbook }}"}},
    ],
    ids=str,
)
def test_valid_values_pass(spec: dict[str, Any]) -> None:
    assert lines(alert(**spec), tools=True) == []

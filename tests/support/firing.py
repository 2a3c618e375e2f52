"""Alerts posted straight to a real Alertmanager's API v2, as if Prometheus had sent them."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta


def firing(pairs: list[tuple[str, str]], severity: str = "critical") -> list[dict[str, object]]:
    """Alerts for Alertmanager's API v2, one per (customer id, alert name), firing for an hour."""
    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {
            "labels": {"alertname": name, "customer_id": cid, "severity": severity},
            "annotations": {"summary": f"{name} of {cid}"},
            "endsAt": ends,
        }
        for cid, name in pairs
    ]


def post_alerts(am_url: str, alerts: list[dict[str, object]]) -> None:
    req = urllib.request.Request(
        f"{am_url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200

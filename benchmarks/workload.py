"""The CustomerAlert the runtime benchmarks create, in one place so their results compare.

Imported by the scripts beside it (`python3 benchmarks/bench_*.py` puts this directory
on sys.path).
"""

from __future__ import annotations

from typing import Any

API = "alertplane.io/v1alpha1"
SEVERITIES = ("critical", "warning", "info")


def alert_manifest(cid: str, a: int, threshold: int) -> dict[str, Any]:
    """Alert number `a` of customer `cid`: a 5xx rate per service above `threshold`, both
    categories and all severities in turn."""
    return {
        "apiVersion": API,
        "kind": "CustomerAlert",
        "metadata": {"name": f"{cid}-a{a}", "namespace": cid},
        "spec": {
            "customerId": cid,
            "alertName": f"Alert{a}",
            "category": "application" if a % 2 else "infrastructure",
            "severity": SEVERITIES[a % 3],
            "expr": f'sum by (service) (rate(http_requests_total{{customer_id="{cid}",'
            f'code=~"5.."}}[5m])) > {threshold}',
            "for": "5m",
            "annotations": {"summary": "{{ $labels.service }} fails"},
        },
    }

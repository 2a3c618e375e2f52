"""The objects the benchmarks create, in one place so their results compare.

`alert_manifest` is the runtime benchmarks' CustomerAlert; `core_manifests` is
bench_core's heavier workload (also what bench_ab.py renders through the CLI). Imported by
the scripts beside it (`python3 benchmarks/bench_*.py` puts this directory on sys.path).
"""

from __future__ import annotations

from typing import Any

import yaml

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


def core_manifests(customers: int, alerts: int) -> str:
    """bench_core's workload as one YAML stream: per customer `alerts` alerts (two
    selectors, a label, templates) and two receivers (webhook + Slack, routed by severity)."""
    docs: list[dict[str, Any]] = []
    for c in range(customers):
        cid = f"customer-{c:04d}"
        for a in range(alerts):
            doc = alert_manifest(cid, a, threshold=0)
            # Heavier than the runtime benchmarks' alert: two selectors, a label, templates.
            doc["spec"].update(
                expr=(
                    f'sum by (service) (rate(http_requests_total{{customer_id="{cid}",'
                    f'code=~"5.."}}[5m])) / sum by (service) (rate(http_requests_total'
                    f'{{customer_id="{cid}"}}[5m])) > 0.0{a % 9 + 1}'
                ),
                labels={"team": f"team-{a % 4}"},
                annotations={
                    "summary": "{{ $labels.service }} error ratio {{ $value | humanize }}",
                    "runbookUrl": f"https://runbooks.example/{a}",
                },
            )
            docs.append(doc)
        for r, sev in enumerate(("critical", "warning")):
            docs.append(
                {
                    "apiVersion": "alertplane.io/v1alpha1",
                    "kind": "CustomerReceiver",
                    "metadata": {"name": f"{cid}-r{r}", "namespace": cid},
                    "spec": {
                        "customerId": cid,
                        "receiverName": f"r{r}",
                        "webhook": [{"url": f"http://127.0.0.1:9097/{cid}/{r}"}],
                        "slack": [
                            {
                                "apiURLSecretRef": {"name": "slack", "key": "url"},
                                "titleTemplate": "[" + cid + "] {{ .CommonLabels.alertname }}",
                            }
                        ],
                        "route": {"priority": r, "match": {"severity": [sev]}, "continue": r == 0},
                    },
                }
            )
    return yaml.safe_dump_all(docs, sort_keys=False)

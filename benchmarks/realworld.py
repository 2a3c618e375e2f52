"""A real-world-like workload: 1,250 alerts (50 customers × 25) in the shapes common mixins
use — rates and ratios, histogram_quantile, absent, predict_linear, label_replace,
on/group_left joins, and/unless, subqueries, a multi-window SLO burn rate — each selector
scoped to its customer with `customer_id`.

Written down from the rules of node-exporter, kube-state-metrics, kubernetes-mixin,
blackbox and SLO mixins (shapes, not copies). Imported by bench_limits.py; printed as
YAML with `python3 benchmarks/realworld.py > rules.yaml`.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

API = "alertplane.io/v1alpha1"
CUSTOMERS = 50
SEVERITIES = ("critical", "warning", "info")

# `{c}` is the customer's matcher, `customer_id="<id>"`.
EXPRESSIONS = (
    'up{{{c},job="node"}} == 0',
    'absent(up{{{c},job="api"}} == 1)',
    'sum by (service) (rate(http_requests_total{{{c},code=~"5.."}}[5m]))'
    " / sum by (service) (rate(http_requests_total{{{c}}}[5m])) > 0.05",
    "histogram_quantile(0.99, sum by (le, service) "
    "(rate(http_request_duration_seconds_bucket{{{c}}}[5m]))) > 0.5",
    'predict_linear(node_filesystem_avail_bytes{{{c},fstype!="tmpfs"}}[6h], 4 * 3600) < 0'
    " and node_filesystem_readonly{{{c}}} == 0",
    '(node_filesystem_avail_bytes{{{c},mountpoint="/"}}'
    ' / node_filesystem_size_bytes{{{c},mountpoint="/"}} * 100 < 10)'
    " and on (instance, device, mountpoint) node_filesystem_readonly{{{c}}} == 0",
    '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{{c},mode="idle"}}[5m]))) > 90',
    "(1 - node_memory_MemAvailable_bytes{{{c}}} / node_memory_MemTotal_bytes{{{c}}}) * 100 > 90",
    "rate(node_network_receive_errs_total{{{c}}}[2m])"
    " / rate(node_network_receive_packets_total{{{c}}}[2m]) > 0.01",
    "increase(kube_pod_container_status_restarts_total{{{c}}}[1h]) > 5",
    'max_over_time(kube_pod_container_status_waiting_reason{{{c},reason="CrashLoopBackOff"}}'
    "[5m]) >= 1",
    "sum by (namespace, pod) (max by (namespace, pod) (kube_pod_status_phase{{{c},"
    'phase=~"Pending|Unknown|Failed"}}) * on (namespace, pod) group_left (owner_kind) '
    "topk by (namespace, pod) (1, max by (namespace, pod, owner_kind) "
    '(kube_pod_owner{{{c},owner_kind!="Job"}}))) > 0',
    "(kube_deployment_spec_replicas{{{c}}} > kube_deployment_status_replicas_available{{{c}}})"
    " and (changes(kube_deployment_status_replicas_updated{{{c}}}[10m]) == 0)",
    'label_replace(probe_success{{{c}}}, "site", "$1", "instance", "https?://([^/]+).*") == 0',
    "probe_ssl_earliest_cert_expiry{{{c}}} - time() < 86400 * 14",
    "avg_over_time(probe_duration_seconds{{{c}}}[5m]) > 1",
    'sum(rate(grpc_server_handled_total{{{c},grpc_code!="OK"}}[5m])) by (grpc_service)'
    " / sum(rate(grpc_server_handled_total{{{c}}}[5m])) by (grpc_service) > 0.1",
    "time() - max by (job) (backup_last_success_timestamp_seconds{{{c}}}) > 86400",
    '(sum(rate(http_requests_total{{{c},code=~"5.."}}[1h]))'
    " / sum(rate(http_requests_total{{{c}}}[1h]))) > (14.4 * 0.001)"
    ' and (sum(rate(http_requests_total{{{c},code=~"5.."}}[5m]))'
    " / sum(rate(http_requests_total{{{c}}}[5m]))) > (14.4 * 0.001)",
    "max_over_time(rate(queue_depth{{{c}}}[1m])[30m:1m]) > 100",
    "sum by (queue) (queue_messages_ready{{{c}}}) > 1000"
    " unless on (queue) sum by (queue) (rate(queue_messages_consumed_total{{{c}}}[5m])) > 0",
    "count by (job) (up{{{c}}} == 1) < count by (job) (up{{{c}}}) * 0.5",
    "rate(process_cpu_seconds_total{{{c}}}[5m]) * 100 > 80"
    " or process_resident_memory_bytes{{{c}}} > 4e9",
    "(clamp_min(sum by (instance) (rate(errors_total{{{c}}}[5m])), 0) > bool 1)"
    " * on (instance) group_left (version) build_info{{{c}}}",
    # kubernetes-mixin's apiserver error budget, the deepest upstream rule measured.
    "1 - ((sum by (cluster) (rate(apiserver_request_sli_duration_seconds_count{{{c},"
    'verb=~"POST|PUT"}}[1h])) - sum by (cluster) (rate(apiserver_request_sli_duration_'
    'seconds_bucket{{{c},verb=~"POST|PUT",le="1"}}[1h]) or vector(0))) + (sum by '
    '(cluster) (rate(apiserver_request_total{{{c},code=~"5.."}}[1h]) or vector(0)))) '
    "/ sum by (cluster) (rate(apiserver_request_total{{{c}}}[1h])) < 0.99",
)


def alerts(customers: int = CUSTOMERS) -> list[dict[str, Any]]:
    docs = []
    for n in range(customers):
        cid = f"tenant-{n:03d}"
        matcher = f'customer_id="{cid}"'
        for a, expr in enumerate(EXPRESSIONS):
            docs.append(
                {
                    "apiVersion": API,
                    "kind": "CustomerAlert",
                    "metadata": {"name": f"{cid}-r{a}", "namespace": cid},
                    "spec": {
                        "customerId": cid,
                        "alertName": f"Rule{a}",
                        "category": "application" if a % 2 else "infrastructure",
                        "severity": SEVERITIES[a % 3],
                        "expr": expr.format(c=matcher),
                        "for": "5m",
                        "labels": {"team": f"team-{a % 4}"},
                        "annotations": {
                            "summary": "{{ $labels.instance }}: {{ $value | humanize }}",
                            "runbookUrl": f"https://runbooks.example/rule-{a}",
                        },
                    },
                }
            )
    return docs


def text(customers: int = CUSTOMERS) -> str:
    return yaml.safe_dump_all(alerts(customers), sort_keys=False, width=10**6)


if __name__ == "__main__":
    sys.stdout.write(text())

"""Self-monitoring metrics (scraped from `alertplane serve` at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SYNC_DURATION = Histogram(
    "alertplane_sync_duration_seconds",
    "Time of one sync: load, validate, render, write, reload.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
SYNCS = Counter("alertplane_syncs_total", "Syncs by outcome.", ["outcome"], registry=REGISTRY)
RELOADS = Counter(
    "alertplane_reloads_total",
    "Reloads of Prometheus/Alertmanager by outcome.",
    ["target", "outcome"],
    registry=REGISTRY,
)
OBJECTS = Gauge(
    "alertplane_objects", "Objects by kind and phase.", ["kind", "phase"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "alertplane_sync_queue_customers",
    "Customers waiting to be synced.",
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "alertplane_last_successful_sync_timestamp_seconds",
    "Unix time of the last sync that ended with everything live.",
    registry=REGISTRY,
)
RULES = Gauge("alertplane_rendered_rules", "Alerting rules currently rendered.", registry=REGISTRY)
SYNC_FAILING_SINCE = Gauge(
    "alertplane_sync_failing_since_seconds",
    "Unix time since which every sync has failed (output not written, a reload failed, or "
    "the database unavailable); 0 while the last sync succeeded. /readyz turns 503 once "
    "this is older than the readiness grace period.",
    registry=REGISTRY,
)

"""`Synced` means live, against the real prometheus-operator v0.85.0 (tests/support/promop_env.py)
and the real API server: the prometheus-operator sink says Synced only once PO generated the
customer's rule file and routes, Failed with PO's message when PO refuses an object (the other
customers stay live), and Failed (ReloadFailed) while PO cannot reconcile the Alertmanager.

alertplane's operator runs with the chart's flags and RBAC, and the Prometheus and Alertmanager
objects are the chart's (`sink.prometheusOperator.createObjects`, names `main`). No kubelet:
PO's StatefulSets run no pod, so what counts is what PO generates (rule ConfigMap, the
generated Alertmanager Secret), its Reconciled condition and its Events — what
sinks/promop_live.py reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.factories import alert, receiver
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    chart_operator,
    running,
    started_cluster,
    wait_for,
)
from tests.support.promop_env import (
    MONITORING,
    PLURALS,
    PromOp,
    alertmanager_config,
    promop_running,
    reconciled,
    rule_files,
    wait_reconciled,
    warning_events,
)

SINK_NS = "monitoring"
CUSTOMERS = ("live-co", "refused-co", "fine-co", "frozen-co")
ALERT, RECEIVER = "CustomerAlert", "CustomerReceiver"
# promtool 2.42 (alertplane's check) accepts holt_winters; PO v0.85 parses rules with the
# Prometheus 3 parser, which dropped it (now double_exponential_smoothing, behind a flag).
REFUSED_EXPR = 'holt_winters(rate(errors_total{customer_id="%s"}[5m])[10m:1m], 0.5, 0.5) > 1'


@dataclass
class Stack:
    cluster: Cluster
    promop: PromOp


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """PO on the sink namespace with the chart's Prometheus and Alertmanager objects, and
    alertplane's operator with the chart's flags and RBAC (no refused request allowed)."""
    tmp = tmp_path_factory.mktemp("promop-liveness")
    with started_cluster(SINK_NS) as cluster, promop_running(cluster, tmp, [SINK_NS]) as promop:
        for cid in CUSTOMERS:
            cluster.namespace(cid, cid)
        values = {
            "sink": {
                "type": "prometheus-operator",
                "namespace": SINK_NS,
                "prometheusOperator": {"createObjects": True},  # `main` and `main`: defaults
            },
            "watchNamespaces": list(CUSTOMERS),
        }
        chart = chart_operator(cluster.env, values, "liveness")
        objects = [d for d in chart.docs if d["kind"] in ("Prometheus", "Alertmanager")]
        assert sorted(d["kind"] for d in objects) == ["Alertmanager", "Prometheus"]
        cluster.env.apply(*objects)
        args = chart.args()
        assert "--promop-prometheus=main" in args and "--promop-alertmanager=main" in args
        with running(OperatorProcess(cluster.env, args, tmp / "operator.log", chart.kubeconfig)):
            # The Alertmanager reconciles once the sink wrote the base configuration.
            wait_reconciled(cluster, "prometheuses", SINK_NS, "main")
            wait_reconciled(cluster, "alertmanagers", SINK_NS, "main")
            yield Stack(cluster, promop)


def wait_reason(
    cluster: Cluster, kind: str, ns: str, name: str, reason: str, timeout: float = 60
) -> dict[str, Any]:
    """Until the object's Synced condition, concluded for its current generation, has
    `reason`; the condition."""

    def check() -> dict[str, Any] | None:
        obj = cluster.get(kind, ns, name)
        st = (obj or {}).get("status") or {}
        if obj is None or st.get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        found = [c for c in st.get("conditions") or [] if c.get("type") == "Synced"]
        return found[0] if found and found[0].get("reason") == reason else None

    return wait_for(
        check, timeout, f"{kind} {ns}/{name} Synced {reason} ({cluster.status(kind, ns, name)})"
    )


def customer(cluster: Cluster, ns: str, **alert_spec: Any) -> None:
    cluster.kubectl_apply(alert(ns, **alert_spec), receiver(ns))


def test_pending_until_prometheus_operator_generated_it_then_synced(stack: Stack) -> None:
    cluster, ns = stack.cluster, "live-co"
    alert_name, receiver_name = f"{ns}-higherrorrate", f"{ns}-oncall"
    # PO stopped: written, but nobody generated it. Pending, naming what is awaited, and
    # asked about again (nothing is rewritten meanwhile) until PO has it.
    stack.promop.stop()
    try:
        customer(cluster, ns)
        cond = wait_reason(cluster, ALERT, ns, alert_name, "Pending")
        assert cond["status"] == "False"
        assert "has not loaded it into Prometheus monitoring/main yet" in cond["message"], cond
        assert cluster.status(ALERT, ns, alert_name)["phase"] == "Pending"
        cond = wait_reason(cluster, RECEIVER, ns, receiver_name, "Pending")
        assert "has not loaded it into Alertmanager monitoring/main" in cond["message"], cond
    finally:
        stack.promop.start()
    cond = wait_reason(cluster, ALERT, ns, alert_name, "Reloaded")
    assert cond["status"] == "True"
    assert cond["message"] == "prometheus-operator generated it for Prometheus monitoring/main"
    assert cluster.status(ALERT, ns, alert_name)["phase"] == "Synced"
    wait_reason(cluster, RECEIVER, ns, receiver_name, "Reloaded")
    # Read after the statuses: what they claim live is in what PO generated.
    files = rule_files(cluster, SINK_NS, "main")
    assert [k for k in files if k.startswith(f"{SINK_NS}-alertplane-{ns}-")], sorted(files)
    config = alertmanager_config(cluster, SINK_NS, "main")
    assert config is not None
    first_level = [r.get("receiver") for r in config["route"].get("routes") or []]
    assert f"{SINK_NS}/alertplane-{ns}/platform_default" in first_level, first_level


def test_a_rule_prometheus_operator_refuses_fails_that_customer_only(stack: Stack) -> None:
    cluster, bad, good = stack.cluster, "refused-co", "fine-co"
    customer(cluster, bad, expr=REFUSED_EXPR % bad)
    customer(cluster, good)
    cond = wait_reason(cluster, ALERT, bad, f"{bad}-higherrorrate", "Rejected")
    assert cond["status"] == "False"
    events = warning_events(cluster, SINK_NS, "PrometheusRule", f"alertplane-{bad}")
    assert cond["message"] in events, (cond, events)
    assert f"PrometheusRule alertplane-{bad} was rejected" in cond["message"], cond
    assert cluster.status(ALERT, bad, f"{bad}-higherrorrate")["phase"] == "Failed"
    wait_reason(cluster, ALERT, good, f"{good}-higherrorrate", "Reloaded")
    # Only its rules were refused: its routes are live.
    wait_reason(cluster, RECEIVER, bad, f"{bad}-oncall", "Reloaded")
    # Fixed: the Event is about the refused version; the new one goes live.
    cluster.kubectl_apply(alert(bad))
    wait_reason(cluster, ALERT, bad, f"{bad}-higherrorrate", "Reloaded")


def test_alertmanager_prometheus_operator_cannot_reconcile_is_reload_failed(
    stack: Stack,
) -> None:
    cluster, ns = stack.cluster, "frozen-co"
    path = f"/apis/{MONITORING}/{PLURALS['alertmanagers']}/namespaces/{SINK_NS}/alertmanagers/main"
    base = {"alertmanagerConfiguration": {"name": "alertplane.platform"}}
    broken = {"alertmanagerConfiguration": {"name": "no-such-config"}}
    cluster.api.merge_patch(path, {"spec": broken})
    try:
        wait_for(
            lambda: reconciled(cluster, "alertmanagers", SINK_NS, "main").get("status") == "False",
            60,
            "PO reports the Alertmanager not reconciled",
        )
        customer(cluster, ns)
        cond = wait_reason(cluster, RECEIVER, ns, f"{ns}-oncall", "ReloadFailed")
        assert cond["message"].startswith("Alertmanager monitoring/main: "), cond
        assert cluster.status(RECEIVER, ns, f"{ns}-oncall")["phase"] == "Failed"
        # Rules do not go through the Alertmanager.
        wait_reason(cluster, ALERT, ns, f"{ns}-higherrorrate", "Reloaded")
    finally:
        cluster.api.merge_patch(path, {"spec": base})
    # Retried (a failed target is), and live once PO reconciled again.
    wait_reason(cluster, RECEIVER, ns, f"{ns}-oncall", "Reloaded", timeout=120)

"""Inhibit rules and time intervals through the operator and the prometheus-operator sink,
on the real prometheus-operator v0.85 (issue 15 §2, §3 "in Kubernetes mode").

Two customers declare the very same inhibit rule and time interval names (`kubectl apply`
of CustomerReceivers); a third receiver names a time zone AlertmanagerConfig v1alpha1
cannot carry. Then:

- the zone receiver is Invalid with the field and the reason, never applied shifted;
- the Alertmanager configuration prometheus-operator generated has each customer's rule
  with `customer_id="<id>"` on both sides and in `equal`, and each customer's interval
  under its own name, referenced by its own route only; amtool accepts it;
- a real Alertmanager (0.28.1, the one PO targets) on that generated configuration:
  customer A's source alert inhibits A's target, never B's identical target.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import promop_env as po
from tests.support.factories import receiver
from tests.support.operator_env import Cluster, OperatorProcess, chart_operator, running, wait_for

SINK_NS = "monitoring"
NAME = "main"
A, B = "amc-a", "amc-b"
RULE = {
    "sourceMatch": [{"name": "alertname", "value": "DatabaseDown"}],
    "targetMatch": [{"name": "severity", "value": "warning"}],
    "equal": ["service"],
}
NIGHT = {
    "name": "night",
    "timeIntervals": [{"times": [{"startTime": "00:00", "endTime": "06:00"}], "location": "UTC"}],
}
BERLIN = {"name": "night", "timeIntervals": [{"location": "Europe/Berlin"}]}
ZONE = (
    "spec.timeIntervals[0].timeIntervals[0].location: the prometheus-operator sink cannot "
    "apply time zone 'Europe/Berlin': AlertmanagerConfig v1alpha1 has no location (its times "
    "are UTC); write the times in UTC and leave location unset"
)


@dataclass
class Stack:
    cluster: Cluster
    objects: dict[str, dict[str, Any]]
    config: Path  # PO's generated alertmanager.yaml


def _manifests() -> list[dict[str, Any]]:
    hook = [{"url": "http://127.0.0.1:9/unused"}]
    route = {"muteTimeIntervals": ["night"]}
    docs = [
        receiver(c, "oncall", webhook=hook, inhibitRules=[RULE], timeIntervals=[NIGHT], route=route)
        for c in (A, B)
    ]
    docs.append(receiver(B, "berlin", webhook=hook, timeIntervals=[BERLIN]))
    return docs


def _objects(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {
        f"{cid}/{o['metadata']['name']}": o
        for cid in (A, B)
        for o in cluster.items("alertplane.io/v1alpha1", "customerreceivers", cid)
    }


def _settled(cluster: Cluster) -> dict[str, dict[str, Any]] | None:
    objs = _objects(cluster)
    phases = [(o.get("status") or {}).get("phase") for o in objs.values()]
    return objs if len(objs) == 3 and all(p in ("Synced", "Invalid") for p in phases) else None


@pytest.fixture(scope="module")
def stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("promop-primitives")
    for cid in (A, B):
        cluster.namespace(cid, cid)
    po.install_crds(cluster)
    values = {
        "sink": {
            "type": "prometheus-operator",
            "namespace": SINK_NS,
            "prometheusOperator": {"createObjects": True, "prometheus": [NAME],
                                   "alertmanager": [NAME]},
        },
        "watchNamespaces": [A, B],
    }  # fmt: skip
    chart = chart_operator(cluster.env, values, "amc")
    cluster.env.apply(*[d for d in chart.docs if d["kind"] in ("Prometheus", "Alertmanager")])
    (cm,) = [d for d in chart.docs if d["kind"] == "ConfigMap" and "platform.yaml" in d["data"]]
    platform = tmp / "platform.yaml"
    platform.write_text(cm["data"]["platform.yaml"])
    manifests = tmp / "receivers.yaml"
    manifests.write_text(yaml.safe_dump_all(_manifests()))
    op = OperatorProcess(
        cluster.env, [*chart.args(), f"--platform-config={platform}"], tmp / "op.log",
        chart.kubeconfig,
    )  # fmt: skip
    with running(op), po.promop_running(cluster, tmp, [SINK_NS]):
        cluster.env.kubectl("apply", "-f", str(manifests))
        po.wait_reconciled(cluster, "alertmanagers", SINK_NS, NAME)
        objects = wait_for(lambda: _settled(cluster), 180, "every receiver Synced or Invalid")

        def generated() -> str | None:
            text = po.alertmanager_config_text(cluster, SINK_NS, NAME)
            return text if text and "inhibit_rules" in text else None

        config = tmp / "alertmanager.yaml"
        config.write_text(wait_for(generated, 120, "PO's config with the inhibit rules"))
        yield Stack(cluster, objects, config)


def test_a_zone_the_sink_cannot_carry_is_invalid_by_field(stack: Stack) -> None:
    phases = {k: o["status"]["phase"] for k, o in stack.objects.items()}
    assert phases == {f"{A}/{A}-oncall": "Synced", f"{B}/{B}-oncall": "Synced",
                      f"{B}/{B}-berlin": "Invalid"}  # fmt: skip
    assert ZONE in json.dumps(stack.objects[f"{B}/{B}-berlin"]["status"])


def test_generated_config_scopes_rules_and_intervals(stack: Stack) -> None:
    config = yaml.safe_load(stack.config.read_text())
    rules = sorted(config["inhibit_rules"], key=lambda r: r["source_matchers"])
    assert rules == [
        {
            "source_matchers": [f'customer_id="{c}"', 'alertname="DatabaseDown"'],
            "target_matchers": [f'customer_id="{c}"', 'severity="warning"'],
            "equal": ["customer_id", "service"],
        }
        for c in (A, B)
    ]
    intervals = config.get("mute_time_intervals") or config.get("time_intervals")
    names = sorted(t["name"] for t in intervals)
    assert names == [f"{SINK_NS}/alertplane-{c}/oncall/night" for c in (A, B)]
    refs = {}
    for top in config["route"]["routes"]:
        for child in top.get("routes") or []:
            if child.get("mute_time_intervals"):
                refs[child["receiver"]] = child["mute_time_intervals"]
    assert refs == {
        f"{SINK_NS}/alertplane-{c}/oncall": [f"{SINK_NS}/alertplane-{c}/oncall/night"]
        for c in (A, B)
    }
    proc = subprocess.run(
        [po.amtool(), "check-config", str(stack.config)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _post(url: str, alerts: list[dict[str, str]]) -> None:
    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    req = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps([{"labels": a, "endsAt": ends} for a in alerts]).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_a_customers_source_inhibits_its_own_target_only(stack: Stack) -> None:
    source = {"alertname": "DatabaseDown", "severity": "critical", "service": "db"}
    target = {"alertname": "ApiErrors", "severity": "warning", "service": "db"}
    with po.Alertmanager028(stack.config) as am:
        _post(am.url, [{**source, "customer_id": A}, {**target, "customer_id": A},
                       {**target, "customer_id": B}])  # fmt: skip

        def states() -> dict[tuple[str, str], dict[str, Any]] | None:
            got = {(a["labels"]["customer_id"], a["labels"]["alertname"]): a for a in am.alerts()}
            return (
                got if got.get((A, "ApiErrors"), {}).get("status", {}).get("inhibitedBy") else None
            )

        got = wait_for(states, 60, f"{A}'s target inhibited")
    assert got[(A, "ApiErrors")]["status"]["inhibitedBy"] == [
        got[(A, "DatabaseDown")]["fingerprint"]
    ]
    assert got[(B, "ApiErrors")]["status"]["inhibitedBy"] == []
    assert got[(B, "ApiErrors")]["status"]["state"] == "active"

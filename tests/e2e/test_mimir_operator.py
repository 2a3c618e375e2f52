"""The operator's Mimir sink (`alertplane operator --sink mimir`) on a real API server and
the real Grafana Mimir: each customer a tenant, its Kubernetes Secret's value inlined into
its tenant's Alertmanager configuration, Synced once Mimir serves it, a tenant Mimir refuses
Failed with Mimir's words, a missing Secret key Invalid on its receiver, removal — run with
the Helm chart's flags and RBAC (`sink.type: mimir`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.factories import alert, receiver
from tests.support.mimir_env import Mimir
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    chart_operator,
    condition,
    running,
    wait_for,
)

GOOD, BAD = "mimir-co", "mimir-bad"
KEY = "pd-key-4c1e"  # the PagerDuty routing key in GOOD's Secret


@pytest.fixture(scope="module")
def mimir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mimir]:
    # BAD may have 1 rule per group in Mimir: its 2 alerts' group is refused.
    overrides = {BAD: {"ruler_max_rules_per_rule_group": 1}}
    with Mimir(tmp_path_factory.mktemp("mimir"), overrides=overrides) as m:
        yield m


def _alert(customer: str, name: str) -> dict[str, object]:
    return alert(customer, name, expr=f'up{{customer_id="{customer}"}} == 0')


def test_operator_pushes_tenants_to_mimir(cluster: Cluster, mimir: Mimir, tmp_path: Path) -> None:
    for ns in (GOOD, BAD):
        cluster.namespace(ns, ns)
    cluster.secret(GOOD, "pd", {"key": KEY})
    pd = [{"routingKeySecretRef": {"name": "pd", "key": "key"}}]
    # As the chart deploys it: its flags, and its RBAC alone (`running` fails on any 403):
    # Secrets read by name in the watched namespaces, nothing written into the cluster.
    values = {
        "watchNamespaces": [GOOD, BAD],
        "sink": {"type": "mimir", "mimir": {"url": mimir.url}},
    }
    chart = chart_operator(cluster.env, values, "mimir")
    args = chart.args(resync_interval="0")
    assert "--sink=mimir" in args and f"--mimir-url={mimir.url}" in args
    op = OperatorProcess(cluster.env, args, tmp_path / "operator.log", chart.kubeconfig)
    with running(op):
        cluster.kubectl_apply(
            _alert(GOOD, "Down"), receiver(GOOD, pagerduty=pd),
            _alert(BAD, "DownA"), _alert(BAD, "DownB"),
        )  # fmt: skip
        st = cluster.wait_phase("CustomerAlert", GOOD, f"{GOOD}-down", timeout=120)["status"]
        assert condition(st, "Synced")["reason"] == "Reloaded"
        assert st["renderedTo"] == [f"Mimir tenant {GOOD}: ruler namespaces alertplane-*"]
        groups = mimir.rules(GOOD)
        assert [(g["file"], g["name"]) for g in groups] == [
            ("alertplane-application", f"{GOOD}-application")
        ]
        assert groups[0]["rules"][0]["labels"]["customer_id"] == GOOD

        st = cluster.wait_phase("CustomerReceiver", GOOD, f"{GOOD}-oncall", timeout=120)
        assert st["status"]["renderedTo"] == [f"Mimir tenant {GOOD}: Alertmanager configuration"]
        config = mimir.config(GOOD)
        assert config is not None
        assert f"routing_key: {KEY}" in config["alertmanager_config"]  # from the Secret
        assert "_file" not in config["alertmanager_config"]

        # Refused by Mimir: Failed, Mimir's words on the object; the other tenant unaffected.
        bad = cluster.wait_phase("CustomerAlert", BAD, f"{BAD}-downa", ("Failed",), 120)
        synced = condition(bad["status"], "Synced")
        assert synced["reason"] == "Rejected"
        assert "per-user rules per rule group limit (limit: 1 actual: 2)" in synced["message"]
        # Refused, the group keeps its previous version: none, or DownA alone when a pass
        # ran between the two applies (a group of one fits BAD's limit).
        held = [r["name"] for g in mimir.rules(BAD) for r in g["rules"]]
        assert held in ([], ["DownA"]), held

        # A Secret key that does not exist: the receiver is Invalid, saying which.
        missing = [{"routingKeySecretRef": {"name": "pd", "key": "nope"}}]
        cluster.kubectl_apply(receiver(GOOD, "pager", pagerduty=missing))
        st = cluster.wait_phase("CustomerReceiver", GOOD, f"{GOOD}-pager", ("Invalid",), 60)
        assert "Secret mimir-co/pd has no key 'nope'" in condition(st["status"], "Valid")["message"]

        # Fixing BAD's limit is Mimir's business; removing its alerts is alertplane's.
        cluster.env.kubectl("delete", "customeralert", f"{GOOD}-down", "-n", GOOD)
        wait_for(lambda: mimir.rules(GOOD) == [], 120, "rules removed from Mimir")
        # The receiver is still there: its configuration stays.
        assert mimir.config(GOOD) is not None
    assert KEY not in op.log.read_text(errors="replace")  # never logged

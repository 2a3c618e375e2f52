"""Sharded rule evaluation with the prometheus-operator sink (issue 12 item 1), against the
real prometheus-operator v0.85.0 and the real API server.

The chart renders one `Prometheus` object per shard (`main-<shard>`, ruleSelector on
`alertplane.io/shard`) and the operator's `--promop-prometheus SHARD=NS/NAME` flags;
alertplane's operator runs with the chart's flags and RBAC. What a shard evaluates is what
prometheus-operator generated for its Prometheus object (the rule ConfigMaps a pod would
mount; no kubelet here, so no pod). One scenario, in order (the phases build on each other):

1. shards a, b: every customer's PrometheusRule is generated for its shard's Prometheus
   only; Synced names that Prometheus; renderedTo names the shard;
2. shard c added (operator restarted with the new platform config): exactly the customers
   rendezvous hashing moves go to c, the others' objects are not touched; polling the
   generated rule ConfigMaps throughout, no moved customer is ever generated for no shard;
   while prometheus-operator is stopped, the moving customers wait (Pending, "still live
   on" the old shard) with their old PrometheusRule kept;
3. shard b removed: b's customers move, nobody else; no gap either;
4. a shard Prometheus whose ruleSelector no longer pins its shard (it would evaluate every
   customer) fails its customers, naming the fix, and the others stay Synced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alertplane.render.placement import moves, place
from alertplane.render.platform import PrometheusSettings, Shard
from tests.support.factories import alert, receiver
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    chart_operator,
    condition,
    running,
    started_cluster,
    wait_for,
)
from tests.support.promop_env import (
    MONITORING,
    PLURALS,
    PromOp,
    promop_running,
    wait_reconciled,
)

SINK_NS = "monitoring"
CUSTOMERS = [f"sh{i}" for i in range(10)]
ALERT = "CustomerAlert"


def settings(shards: list[str]) -> PrometheusSettings:
    return PrometheusSettings(shards=[Shard(name=s) for s in shards])


def snapshot(cluster: Cluster) -> tuple[dict[str, set[str]], set[str]]:
    """customer → the shards whose Prometheus object PO generated its rules for, and the
    shards that have rule ConfigMaps at all (one list call: a consistent snapshot)."""
    out: dict[str, set[str]] = {c: set() for c in CUSTOMERS}
    present: set[str] = set()
    for cm in cluster.items("v1", "configmaps", SINK_NS):
        labels = cm["metadata"].get("labels") or {}
        prom = labels.get("prometheus-name", "")
        if labels.get("managed-by") != "prometheus-operator" or not prom.startswith("main-"):
            continue
        present.add(prom.removeprefix("main-"))
        for key in cm.get("data") or {}:
            for cid in CUSTOMERS:
                if key.startswith(f"{SINK_NS}-alertplane-{cid}."):
                    out[cid].add(prom.removeprefix("main-"))
    return out, present


def generated(cluster: Cluster) -> dict[str, set[str]]:
    return snapshot(cluster)[0]


class GapWatch:
    """Polls `snapshot` until stopped; remembers every snapshot where a customer was
    generated for no shard. prometheus-operator replaces a Prometheus' rule ConfigMaps by
    deleting them all, then creating the new ones (pkg/prometheus/server/rules.go), on any
    change of that shard's rules, moves or not: a snapshot inside that window (one of
    `shards` has no rule ConfigMap at all) says nothing about the move (a pod's mounted
    volume keeps its files meanwhile) and is only counted (`between`)."""

    def __init__(self, cluster: Cluster, shards: set[str]) -> None:
        self.cluster = cluster
        self.shards = shards
        self.gaps: list[tuple[str, dict[str, set[str]]]] = []
        self.polls = self.between = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            snap, present = snapshot(self.cluster)
            self.polls += 1
            if not self.shards <= present:
                self.between += 1
                continue
            self.gaps += [(cid, snap) for cid, held in snap.items() if not held]

    def __enter__(self) -> GapWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def rule_versions(cluster: Cluster) -> dict[str, str]:
    path = f"/apis/{MONITORING}/v1/namespaces/{SINK_NS}/prometheusrules"
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in cluster.api.list(path)}


@contextmanager
def operator_for(
    cluster: Cluster, shards: list[str], tmp: Path, phase: str, paused: PromOp | None = None
) -> Iterator[OperatorProcess]:
    """The chart for `shards`: its new Prometheus objects applied (and reconciled), its RBAC,
    and alertplane's operator with its flags and platform config."""
    values: dict[str, Any] = {
        "sink": {
            "type": "prometheus-operator",
            "namespace": SINK_NS,
            "prometheusOperator": {"createObjects": True},
        },
        "watchNamespaces": CUSTOMERS,
        "platform": {"prometheus": {"shards": [{"name": s} for s in shards]}},
    }
    chart = chart_operator(cluster.env, values, "shards")
    objects = [d for d in chart.docs if d["kind"] in ("Prometheus", "Alertmanager")]
    assert sorted(d["metadata"]["name"] for d in objects if d["kind"] == "Prometheus") == [
        f"main-{s}" for s in shards
    ]
    cluster.env.apply(*objects)
    for s in shards:
        wait_reconciled(cluster, "prometheuses", SINK_NS, f"main-{s}")
    args = chart.args()
    for s in shards:
        assert f"--promop-prometheus={s}={SINK_NS}/main-{s}" in args, args
    (cm,) = [d for d in chart.docs if d["kind"] == "ConfigMap" and "platform.yaml" in d["data"]]
    platform = tmp / f"platform-{phase}.yaml"
    platform.write_text(cm["data"]["platform.yaml"], encoding="utf-8")
    args.append(f"--platform-config={platform}")
    op = OperatorProcess(cluster.env, args, tmp / f"operator-{phase}.log", chart.kubeconfig)
    if paused is not None:  # the new shard's Prometheus reconciled; nothing generated after
        paused.stop()
    with running(op):
        yield op


def settled(cluster: Cluster, shards: list[str]) -> None:
    """Every customer Synced on exactly its shard, and generated for that shard only."""
    placed = settings(shards)

    def check() -> bool:
        for cid in CUSTOMERS:
            st = cluster.status(ALERT, cid, f"{cid}-higherrorrate")
            shard = place(cid, placed)
            want = f"PrometheusRule {SINK_NS}/alertplane-{cid}.{shard} (shard {shard})"
            if st.get("phase") != "Synced" or st.get("renderedTo") != [want]:
                return False
        snap = generated(cluster)
        return all(snap[c] == {place(c, placed)} for c in CUSTOMERS)

    wait_for(check, 180, f"every customer on exactly its shard of {shards}")
    for cid in CUSTOMERS:
        shard = place(cid, placed)
        cond = condition(cluster.status(ALERT, cid, f"{cid}-higherrorrate"), "Synced")
        assert cond["reason"] == "Reloaded", cond
        assert cond["message"] == (
            f"prometheus-operator generated it for Prometheus {SINK_NS}/main-{shard}"
        ), cond


def move(
    cluster: Cluster,
    tmp: Path,
    before: list[str],
    after: list[str],
    phase: str,
    paused: PromOp | None = None,
) -> None:
    """Restart the operator with the shard list `after`; with `paused`, prometheus-operator
    is stopped until every moving customer says it waits for its new shard, its old
    PrometheusRule still there (nothing generated it for the new shard yet)."""
    expected = moves(CUSTOMERS, settings(before), settings(after))
    assert expected, f"{before} -> {after} moves somebody (else this phase proves nothing)"
    moved = {m.customer_id for m in expected}
    versions = rule_versions(cluster)
    watched = set(before) | set(after)
    with GapWatch(cluster, watched) as watch, operator_for(cluster, after, tmp, phase, paused):
        if paused is not None:
            try:
                wait_for(lambda: waiting(cluster, moved), 120, "moving customers Pending")
                for m in expected:
                    assert f"alertplane-{m.customer_id}.{m.source}" in rule_versions(cluster)
                    assert f"alertplane-{m.customer_id}.{m.target}" in rule_versions(cluster)
            finally:
                paused.start()
        settled(cluster, after)
    assert watch.polls - watch.between > 3, (watch.polls, watch.between)
    assert not watch.gaps, f"generated for no shard: {watch.gaps[:3]}"
    now = rule_versions(cluster)
    for cid in CUSTOMERS:
        name = f"alertplane-{cid}.{place(cid, settings(before))}"
        if cid in moved:
            assert name not in now, f"{cid}: the copy on the old shard is gone"
        else:
            assert now.get(name) == versions[name], f"{cid} does not move: not rewritten"


def waiting(cluster: Cluster, moved: set[str]) -> bool:
    """Every moving customer Pending, saying it stays live on its old shard meanwhile."""
    for cid in moved:
        cond = condition(cluster.status(ALERT, cid, f"{cid}-higherrorrate"), "Synced")
        if cond.get("reason") != "Pending" or "still live on" not in cond.get("message", ""):
            return False
    return True


def test_sharded_promop_placement_moves_and_selector(tmp_path: Path) -> None:
    with (
        started_cluster(SINK_NS) as cluster,
        promop_running(cluster, tmp_path, [SINK_NS]) as promop,
    ):
        for cid in CUSTOMERS:
            cluster.namespace(cid, cid)
        # 1. shards a, b
        with operator_for(cluster, ["a", "b"], tmp_path, "ab"):
            for cid in CUSTOMERS:
                cluster.kubectl_apply(alert(cid), receiver(cid))
            assert {place(c, settings(["a", "b"])) for c in CUSTOMERS} == {"a", "b"}
            settled(cluster, ["a", "b"])
        # 2. add c; 3. remove b
        move(cluster, tmp_path, ["a", "b"], ["a", "b", "c"], "abc", paused=promop)
        move(cluster, tmp_path, ["a", "b", "c"], ["a", "c"], "ac")
        # 4. main-a's selector loses the shard: shard a's customers fail, naming the fix
        path = f"/apis/{MONITORING}/{PLURALS['prometheuses']}/namespaces/{SINK_NS}/prometheuses"
        selector = {"matchLabels": {"alertplane.io/shard": None}}  # merge patch: removed
        with operator_for(cluster, ["a", "c"], tmp_path, "selector"):
            cluster.api.merge_patch(f"{path}/main-a", {"spec": {"ruleSelector": selector}})
            on_a = [c for c in CUSTOMERS if place(c, settings(["a", "c"])) == "a"]
            on_c = [c for c in CUSTOMERS if c not in on_a]
            assert on_a and on_c
            for cid in on_a:  # a change makes the operator look again
                cluster.kubectl_apply(alert(cid, severity="warning"))

            def failed() -> bool:
                return all(
                    condition(cluster.status(ALERT, c, f"{c}-higherrorrate"), "Synced").get(
                        "reason"
                    )
                    == "ReloadFailed"
                    for c in on_a
                )

            wait_for(failed, 120, "shard a's customers ReloadFailed")
            cond = condition(cluster.status(ALERT, on_a[0], f"{on_a[0]}-higherrorrate"), "Synced")
            assert "does not require alertplane.io/shard: a" in cond["message"], cond
            assert f"{SINK_NS}/main-a" in cond["message"], cond
            for cid in on_c:
                st = cluster.status(ALERT, cid, f"{cid}-higherrorrate")
                assert st["phase"] == "Synced", (cid, st)

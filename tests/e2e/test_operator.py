"""The operator end to end: a real kube-apiserver, the operator process, real PostgreSQL.

One API server and one cluster-wide operator (prometheus-operator sink, tenant binding on,
mirroring into PostgreSQL) serve every test in this module. The operator runs as the Helm
chart deploys it: its flags and its ServiceAccount's RBAC are rendered from the chart, and
its log must show no refused (403) request; each test works in its own
namespaces and customers, so the tests do not depend on each other's order. The examples'
PrometheusRules, AlertmanagerConfigs and Secrets are compared with
tests/golden/operator/prometheus-operator/ (pytest --update-golden rewrites them).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from alertplane.render.yamlout import dump
from tests.support.chart_env import NO_PROMOP_TARGETS
from tests.support.factories import alert, receiver, recording_rule
from tests.support.operator_env import (
    EXAMPLE_CUSTOMERS,
    Cluster,
    OperatorProcess,
    chart_operator,
    compare_golden,
    condition,
    setup_examples,
    wait_for,
)
from tests.support.paths import EXAMPLES
from tests.support.problems import unplaced
from tests.support.processes import Postgres

SINK_NS = "monitoring"
_dbs = itertools.count()


@pytest.fixture(scope="module")
def db(postgres: Postgres) -> str:
    return postgres.create_database(f"operator_e2e_{next(_dbs)}")


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    # As in a pod: the chart's ServiceAccount with the chart's RBAC, nothing more.
    chart = chart_operator(
        cluster.env,
        {
            "sink": {
                "type": "prometheus-operator",
                "namespace": SINK_NS,
                "prometheusOperator": NO_PROMOP_TARGETS,
            }
        },
        "po",
    )
    args = chart.args()
    assert args == [
        "--sink=prometheus-operator", f"--sink-namespace={SINK_NS}", "--tenant-binding",
        "--resync-interval=300",
    ]  # fmt: skip
    args += [f"--db={db}", f"--platform-config={EXAMPLES / 'platform.yaml'}"]
    op = OperatorProcess(cluster.env, args, log, chart.kubeconfig).start()
    yield op
    op.stop()
    op.assert_no_forbidden()


def audit(db: str, where: str = "true", **params: Any) -> list[dict[str, Any]]:
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM audit WHERE {where} ORDER BY id"), params)
            return [dict(r._mapping) for r in rows]
    finally:
        engine.dispose()


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def owned(cluster: Cluster, customers: tuple[str, ...]) -> dict[str, str]:
    """The generated objects of `customers` and the base configuration as golden files
    (Secrets: keys only)."""
    out: dict[str, str] = {}
    for api_version, plural, kind in (
        ("monitoring.coreos.com/v1", "prometheusrules", "PrometheusRule"),
        ("monitoring.coreos.com/v1alpha1", "alertmanagerconfigs", "AlertmanagerConfig"),
        ("v1", "secrets", "Secret"),
    ):
        for item in cluster.items(api_version, plural, SINK_NS):
            meta = item["metadata"]
            customer = meta.get("labels", {}).get("alertplane.io/customer")
            if customer not in customers and meta["name"] != "alertplane.platform":
                continue  # the base configuration (and its Secret) belong to every set
            body: dict[str, Any] = {
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": dict(sorted(meta["labels"].items())),
                },
            }
            if plural == "secrets":
                body["dataKeys"] = sorted(item.get("data") or {})  # never the values
            else:
                body["spec"] = item["spec"]
            out[f"{plural}/{meta['name']}.yaml"] = dump(body)
    return out


def crash(pg: Postgres, db: str) -> None:
    """SIGKILL the server, as an outage would. The test server commits asynchronously
    (synchronous_commit=off), so first make every commit so far durable (a real server
    would not lose acknowledged commits): one synchronous commit flushes the WAL up to it.
    It must write WAL itself: PostgreSQL commits a transaction that wrote none (such as
    `SELECT txid_current()`) asynchronously whatever synchronous_commit says, and the
    last commits (the WAL writer flushes within 3 x wal_writer_delay, 0.6 s) were lost."""
    engine = create_engine(db)
    try:
        with engine.begin() as conn:
            written = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar_one()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL synchronous_commit = on"))
            conn.execute(text("SELECT pg_logical_emit_message(true, 'alertplane-test', 'flush')"))
        with engine.begin() as conn:
            flushed = conn.execute(
                text("SELECT pg_current_wal_flush_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": written}
            ).scalar_one()
    finally:
        engine.dispose()
    assert flushed, f"WAL up to {written} not flushed: the crash would lose commits"
    assert pg.proc is not None
    os.killpg(pg.proc.pid, signal.SIGKILL)
    pg.proc.wait(10)
    pg.proc = None


def test_examples_are_synced_and_match_golden(
    cluster: Cluster, operator: OperatorProcess, db: str, update_golden: bool
) -> None:
    setup_examples(cluster)
    cluster.env.kubectl("apply", "-f", str(EXAMPLES / "customers"))
    docs = [d for f in sorted((EXAMPLES / "customers").glob("*.yaml")) for d in _load(f)]
    assert len(docs) == 16
    for doc in docs:
        meta = doc["metadata"]
        disabled = doc["spec"].get("enabled") is False
        obj = cluster.wait_phase(
            doc["kind"], meta["namespace"], meta["name"], ("Disabled",) if disabled else ("Synced",)
        )
        st = obj["status"]
        assert condition(st, "Valid")["status"] == "True"
        synced = condition(st, "Synced")
        assert (synced["status"], synced["reason"]) == ("True", "Written")
        assert st["lastSyncTime"]
        cid = doc["spec"]["customerId"]
        if doc["kind"] == "CustomerReceiver":
            assert st["renderedTo"] == [f"AlertmanagerConfig {SINK_NS}/alertplane-{cid}"]
        elif not disabled:
            assert st["renderedTo"] == [f"PrometheusRule {SINK_NS}/alertplane-{cid}"]
        assert "alertplane.io/finalizer" in obj["metadata"]["finalizers"]

    compare_golden("prometheus-operator", owned(cluster, EXAMPLE_CUSTOMERS), update_golden)

    columns = cluster.env.kubectl("get", "customeralerts", "-n", "acme").stdout.splitlines()[0]
    assert columns.split() == ["NAME", "CUSTOMER", "ALERT", "SEVERITY", "ENABLED", "PHASE", "AGE"]
    row = cluster.env.kubectl("get", "customeralert", "acme-target-down", "-n", "acme").stdout
    assert row.splitlines()[1].split()[:6] == [
        "acme-target-down", "acme", "TargetDown", "critical", "true", "Synced",
    ]  # fmt: skip

    def created() -> list[dict[str, Any]]:
        rows = audit(db, "action = 'create' AND customer_id IN ('acme', 'globex', 'initech')")
        return rows if len(rows) == 16 else []

    rows = wait_for(created, 30, "an audit row per example object")
    assert {r["actor"] for r in rows} == {"kubectl-client-side-apply"}
    assert {r["source"] for r in rows} == {"kubernetes"}
    catch_all = next(r for r in rows if r["name"] == "globex-catch-all")
    assert _decoded(catch_all["after"])["slack"][0]["apiURL"] == "<redacted>"
    assert _decoded(catch_all["before"]) is None


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_invalid_resource_is_reported_like_validate(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    cluster.namespace("bad-co", "bad-co")
    bad = alert("bad-co", expr="rate(errors_total[5m]) > 1")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    validate = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 1
    prefix = "CustomerAlert bad-co/bad-co-higherrorrate: "
    (line,) = unplaced(validate.stdout).splitlines()  # (positions: test_positions.py)
    assert line.startswith(prefix)

    cluster.kubectl_apply(bad)
    st = cluster.wait_phase("CustomerAlert", "bad-co", "bad-co-higherrorrate", ("Invalid",))[
        "status"
    ]
    valid = condition(st, "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "Invalid")
    assert valid["message"] == line.removeprefix(prefix)
    assert condition(st, "Synced")["reason"] == "Pending"

    def warned() -> list[dict[str, Any]]:
        events = cluster.items("v1", "events", "bad-co")
        return [e for e in events if e.get("reason") == "Invalid" and e["type"] == "Warning"]

    (event,) = wait_for(warned, 20, "a Warning event")
    assert event["message"] == line.removeprefix(prefix)
    assert event["involvedObject"]["name"] == "bad-co-higherrorrate"
    assert not [
        r for r in cluster.items("monitoring.coreos.com/v1", "prometheusrules", SINK_NS)
        if r["metadata"]["name"] == "alertplane-bad-co"
    ]  # fmt: skip


def test_edit_syncs_the_new_generation(
    cluster: Cluster, operator: OperatorProcess, db: str
) -> None:
    cluster.namespace("edit-co", "edit-co")
    cluster.kubectl_apply(alert("edit-co"), receiver("edit-co"))
    cluster.wait_phase("CustomerAlert", "edit-co", "edit-co-higherrorrate")
    edited = 'rate(errors_total{customer_id="edit-co"}[5m]) > 42'
    cluster.kubectl_apply(alert("edit-co", expr=edited))
    obj = cluster.wait_phase("CustomerAlert", "edit-co", "edit-co-higherrorrate")
    assert obj["metadata"]["generation"] == obj["status"]["observedGeneration"] == 2
    rule = cluster.api.get(
        f"/apis/monitoring.coreos.com/v1/namespaces/{SINK_NS}/prometheusrules/alertplane-edit-co"
    )
    assert rule is not None
    assert rule["spec"]["groups"][0]["rules"][0]["expr"] == edited

    def updated() -> list[dict[str, Any]]:
        return audit(db, "name = 'edit-co-higherrorrate' AND action = 'update'")

    (row,) = wait_for(updated, 20, "an audit row for the edit")
    assert row["generation"] == 2
    assert _decoded(row["before"])["expr"] != edited
    assert _decoded(row["after"])["expr"] == edited


def test_delete_removes_rules_then_the_finalizer(
    cluster: Cluster, operator: OperatorProcess, db: str
) -> None:
    cluster.namespace("del-co", "del-co")
    cluster.kubectl_apply(alert("del-co"), alert("del-co", name="Second"), receiver("del-co"))
    for name in ("del-co-higherrorrate", "del-co-second"):
        cluster.wait_phase("CustomerAlert", "del-co", name)
    rules_path = f"/apis/monitoring.coreos.com/v1/namespaces/{SINK_NS}/prometheusrules"

    def alert_names() -> set[str]:
        rule = cluster.api.get(f"{rules_path}/alertplane-del-co")
        if rule is None:
            return set()
        return {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}

    assert alert_names() == {"HighErrorRate", "Second"}
    cluster.env.kubectl("delete", "customeralert", "del-co-second", "-n", "del-co", "--wait=false")
    wait_for(lambda: cluster.get("CustomerAlert", "del-co", "del-co-second") is None, 20, "gone")
    assert alert_names() == {"HighErrorRate"}  # removed before the finalizer was
    cluster.env.kubectl("delete", "customeralerts,customerreceivers", "--all", "-n", "del-co")
    wait_for(lambda: cluster.api.get(f"{rules_path}/alertplane-del-co") is None, 20, "rule gone")
    amconfig = f"/apis/monitoring.coreos.com/v1alpha1/namespaces/{SINK_NS}/alertmanagerconfigs"
    wait_for(lambda: cluster.api.get(f"{amconfig}/alertplane-del-co") is None, 20, "am gone")

    def deletions() -> list[dict[str, Any]] | None:
        rows = audit(db, "customer_id = 'del-co' AND action = 'delete'")
        return rows if len(rows) == 3 else None

    deleted = wait_for(deletions, 20, "three delete audit rows")
    assert all(r["after"] is None and r["before"] is not None for r in deleted)


def test_namespace_binding_is_enforced(cluster: Cluster, operator: OperatorProcess) -> None:
    cluster.namespace("bound-a", "bound-a")
    cluster.kubectl_apply(alert("bound-b") | {"metadata": {"name": "x", "namespace": "bound-a"}})
    st = cluster.wait_phase("CustomerAlert", "bound-a", "x", ("Invalid",))["status"]
    assert condition(st, "Valid")["message"] == (
        'spec.customerId: namespace "bound-a" is bound to bound-a '
        '(alertplane.io/customer="bound-a"), so it may not hold resources of customer '
        '"bound-b"; create the resource in a namespace bound to bound-b, or ask the '
        "platform team to add bound-b to the namespace's alertplane.io/customer label"
    )
    cluster.namespace("bound-a", "bound-a.bound-b")  # the platform team allows it
    cluster.wait_phase("CustomerAlert", "bound-a", "x")


def test_restart_converges_without_duplicates_or_losses(
    cluster: Cluster, operator: OperatorProcess, db: str
) -> None:
    ns = "restart-co"
    cluster.namespace(ns, ns)
    cluster.kubectl_apply(alert(ns), alert(ns, name="Gone"), alert(ns, name="Kept"), receiver(ns))
    for name in ("higherrorrate", "gone", "kept"):
        cluster.wait_phase("CustomerAlert", ns, f"{ns}-{name}")
    wait_for(lambda: len(audit(db, "customer_id = :c", c=ns)) == 4, 20, "audit rows")

    operator.stop(kill=True)
    edited = f'rate(errors_total{{customer_id="{ns}"}}[5m]) > 7'
    cluster.kubectl_apply(alert(ns, expr=edited), alert(ns, name="New"))
    cluster.env.kubectl("delete", "customeralert", f"{ns}-gone", "-n", ns, "--wait=false")
    operator.start()

    cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")
    cluster.wait_phase("CustomerAlert", ns, f"{ns}-new")
    wait_for(lambda: cluster.get("CustomerAlert", ns, f"{ns}-gone") is None, 20, "finalized")
    rules = [
        r for r in cluster.items("monitoring.coreos.com/v1", "prometheusrules", SINK_NS)
        if r["metadata"]["labels"].get("alertplane.io/customer") == ns
    ]  # fmt: skip
    (rule,) = rules
    live = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert live == {
        "HighErrorRate": edited,
        "Kept": f'rate(errors_total{{customer_id="{ns}"}}[5m]) > 1',
        "New": f'rate(errors_total{{customer_id="{ns}"}}[5m]) > 1',
    }

    def settled() -> list[tuple[str, str, int]] | None:
        rows = [
            (r["action"], r["name"], r["generation"]) for r in audit(db, "customer_id = :c", c=ns)
        ]
        return rows if len(rows) == 7 else None

    rows = wait_for(settled, 20, "exactly the changes made while down, once each")
    assert sorted(rows[4:]) == [
        ("create", f"{ns}-new", 1),
        ("delete", f"{ns}-gone", 1),
        ("update", f"{ns}-higherrorrate", 2),
    ]


def test_database_outage_does_not_stop_reconciliation(
    cluster: Cluster, operator: OperatorProcess, db: str, postgres: Postgres
) -> None:
    ns = "outage-co"
    cluster.namespace(ns, ns)

    def mirrored_status() -> str:
        st = cluster.status("CustomerAlert", ns, f"{ns}-higherrorrate")
        return str(condition(st, "Mirrored")["status"]) if st.get("conditions") else ""

    cluster.kubectl_apply(alert(ns))
    cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")
    wait_for(lambda: mirrored_status() == "True", 20, "Mirrored=True")
    crash(postgres, db)  # SIGKILL: a smart shutdown would let pooled connections finish
    try:
        edited = f'rate(errors_total{{customer_id="{ns}"}}[5m]) > 5'
        cluster.kubectl_apply(alert(ns, expr=edited))
        # Reconciliation goes on: generation 2 is live while the database is down ...
        cluster.wait_phase("CustomerAlert", ns, f"{ns}-higherrorrate")

        def lagging() -> dict[str, Any] | None:
            st = cluster.status("CustomerAlert", ns, f"{ns}-higherrorrate")
            mirrored = condition(st, "Mirrored")
            return mirrored if mirrored["status"] == "False" else None

        mirrored = wait_for(lagging, 20, "Mirrored=False while the database is down")
        assert mirrored["reason"] == "MirrorPending"
        assert "database unavailable" in mirrored["message"]
        wait_for(lambda: operator.metric("alertplane_mirror_pending_changes") >= 1, 10, "queue")
        wait_for(lambda: operator.metric("alertplane_mirror_lag_seconds") > 0, 10, "lag")
        assert operator.metric("alertplane_mirror_up") == 0
    finally:
        postgres.start()
    # ... and the mirror catches up once it is back.
    wait_for(lambda: mirrored_status() == "True", 60, "Mirrored=True after the database is back")
    rows = audit(db, "name = :n", n=f"{ns}-higherrorrate")
    # The history survived the crash: the change mirrored before it, then the one after.
    assert [(r["action"], r["generation"]) for r in rows] == [("create", 1), ("update", 2)]
    assert _decoded(rows[1]["after"])["expr"] == edited
    wait_for(lambda: operator.metric("alertplane_mirror_pending_changes") == 0, 10, "drained")
    assert operator.metric("alertplane_mirror_lag_seconds") == 0


def test_recording_rules_sync_into_the_customers_prometheus_rule(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> None:
    """Issue 14 §2 on a real API server: a CustomerRecordingRule is watched, admitted, rendered
    as the group `<id>-records` of the customer's PrometheusRule (customer_id forced) and
    reported on; two records of one name with other labels are both live; an unscoped
    expression is Invalid with validate's words."""
    ns = "rec-co"
    cluster.namespace(ns, ns)
    reads = alert(ns, "ErrorRatio", expr='job:errors:rate5m{customer_id="rec-co"} > 1')
    cpu = recording_rule(ns, labels={"reason": "cpu"})
    memory = recording_rule(ns, labels={"reason": "memory"})
    memory["metadata"]["name"] = "rec-co-memory"
    cluster.kubectl_apply(reads, cpu, memory)
    for name in ("rec-co-job-errors-rate5m", "rec-co-memory"):
        st = cluster.wait_phase("CustomerRecordingRule", ns, name)["status"]
        assert st["renderedTo"] == [f"PrometheusRule {SINK_NS}/alertplane-{ns}"]
    rule = cluster.api.get(
        f"/apis/monitoring.coreos.com/v1/namespaces/{SINK_NS}/prometheusrules/alertplane-{ns}"
    )
    assert rule is not None
    groups = {g["name"]: g["rules"] for g in rule["spec"]["groups"]}
    assert list(groups) == [f"{ns}-application", f"{ns}-records"]
    assert [r["labels"] for r in groups[f"{ns}-records"]] == [
        {"customer_id": ns, "reason": "cpu"},
        {"customer_id": ns, "reason": "memory"},
    ]
    header = cluster.env.kubectl("get", "customerrecordingrules", "-n", ns).stdout.splitlines()
    assert header[0].split() == ["NAME", "CUSTOMER", "RECORD", "ENABLED", "PHASE", "AGE"]

    bad = recording_rule(ns, "job:bad:rate5m", expr="sum(rate(errors_total[5m]))")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    validate = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    (line,) = unplaced(validate.stdout).splitlines()  # (positions: test_positions.py)
    prefix = f"CustomerRecordingRule {ns}/{ns}-job-bad-rate5m: "
    assert line.startswith(prefix), line
    cluster.kubectl_apply(bad)
    st = cluster.wait_phase("CustomerRecordingRule", ns, f"{ns}-job-bad-rate5m", ("Invalid",))
    assert condition(st["status"], "Valid")["message"] == line.removeprefix(prefix)

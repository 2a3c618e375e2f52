"""The operator's parts without an API server: cluster state, tenant binding, actors, the
database mirror (on SQLite and PostgreSQL) and the AlertmanagerConfig translation, plus the
core reconciler driven from the cluster state into the files sink (real promtool/amtool)."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

from alertplane.errors import ObjectRef
from alertplane.k8s.binding import binding_of, binding_problem, bound_customers
from alertplane.k8s.changes import actor_of
from alertplane.k8s.handlers import Handlers
from alertplane.k8s.mirror import Mirror
from alertplane.k8s.publish import ADD_FINALIZER, Publisher, object_path
from alertplane.k8s.reconciler import ClusterReconciler
from alertplane.k8s.state import FINALIZER, ClusterState
from alertplane.model import CustomerReceiver
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.promop import FALLBACK_RECEIVER, alertmanager_config
from alertplane.store.tables import AuditRow, ObjectRow, StatusRow
from alertplane.sync import SyncSettings
from alertplane.validate import parse_document
from tests.factories import alert, receiver

_uids = iter(range(1, 10_000))


def body(manifest: dict[str, Any], generation: int = 1, **meta: Any) -> dict[str, Any]:
    """A manifest as the API server returns it."""
    out = copy.deepcopy(manifest)
    out["metadata"].setdefault("uid", f"uid-{out['metadata']['name']}")
    out["metadata"]["generation"] = generation
    out["metadata"].update(meta)
    return out


# -- tenant binding ----------------------------------------------------------------------
def test_binding_label_and_annotation_add_up() -> None:
    meta = {
        "labels": {"alertplane.io/customer": "acme.globex"},
        "annotations": {"alertplane.io/customer": "initech, hooli"},
    }
    assert bound_customers(binding_of(meta)) == ["acme", "globex", "hooli", "initech"]
    assert binding_of({"labels": {"team": "x"}}) is None
    assert binding_problem("team-a", "acme", "acme.globex") is None


def test_binding_problems_name_namespace_label_and_customer() -> None:
    missing = binding_problem("team-a", "acme", None)
    assert missing is not None
    assert missing.text() == (
        'spec.customerId: namespace "team-a" has no label alertplane.io/customer, so it may '
        'not hold resources of customer "acme"; ask the platform team to label it '
        "alertplane.io/customer=acme, or create the resource in a namespace bound to acme"
    )
    foreign = binding_problem("team-a", "globex", "acme")
    assert foreign is not None
    assert 'namespace "team-a" is bound to acme (alertplane.io/customer="acme")' in foreign.text()
    assert 'customer "globex"' in foreign.text()


# -- actors ------------------------------------------------------------------------------
def test_actor_is_the_last_manager_of_the_spec() -> None:
    meta = {
        "managedFields": [
            {"manager": "helm", "time": "2024-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}},
            {"manager": "argocd-controller", "time": "2024-01-02T00:00:00Z",
             "fieldsV1": {"f:spec": {}}},
            {"manager": "kubectl-label", "time": "2024-01-03T00:00:00Z",
             "fieldsV1": {"f:metadata": {}}},
            {"manager": "alertplane", "time": "2024-01-04T00:00:00Z",
             "fieldsV1": {"f:spec": {}}},
            {"manager": "alertplane", "time": "2024-01-05T00:00:00Z", "subresource": "status",
             "fieldsV1": {"f:status": {}}},
        ]
    }  # fmt: skip
    assert actor_of(meta) == "argocd-controller"
    assert actor_of({}) == "unknown"


# -- cluster state -----------------------------------------------------------------------
def test_state_feeds_the_reconciler_only_real_changes() -> None:
    state = ClusterState()
    changes: list[Any] = []
    state.on_change.append(changes.append)
    marker = state.change_marker()
    state.observe(body(alert("acme")))
    touched, marker = state.changed_since(marker)
    assert touched == {"acme"}
    state.observe(body(alert("acme"), resourceVersion="2"))  # e.g. our own status patch
    assert state.changed_since(marker) == (set(), marker)
    moved = alert("acme")
    moved["spec"]["customerId"] = "globex"
    state.observe(body(moved, generation=2))
    touched, marker = state.changed_since(marker)
    assert touched == {"acme", "globex"}  # both customers re-render
    state.observe(body(moved, generation=2, deletionTimestamp="2024-01-01T00:00:00Z"))
    assert state.get() == []
    assert state.deleting(None) == [ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")]
    state.forget("CustomerAlert", "acme", "acme-higherrorrate")
    assert [(c.generation, c.spec is None) for c in changes] == [(1, False), (2, False), (2, True)]


def test_state_scope_and_recreated_objects() -> None:
    state = ClusterState(["acme"])
    assert state.observe(body(alert("globex"))) is None  # not a watched namespace
    first = state.observe(body(alert("acme")))
    again = state.observe(body(alert("acme"), uid="another"))  # deleted and created again
    assert first is not None and again is not None and first.record.serial != again.record.serial


# -- finalizers ---------------------------------------------------------------------------
class _PatchRecorder:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append((path, patch))
        return {}


def test_new_objects_get_the_finalizer_from_the_publisher_not_the_watch_handler() -> None:
    # kopf runs sync handlers on a few threads: an API call there held up every other event
    # (a 10,000-object burst queued raw watch events by the thousand).
    state, client, queued = ClusterState(), _PatchRecorder(), list[ObjectRef]()
    handlers = Handlers(
        state, cast(Any, client), PlatformConfig(), False, cast(Any, None), queued.append
    )
    ref = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    handlers.on_object({"type": "ADDED", "object": body(alert("acme"), resourceVersion="7")})
    assert (queued, client.patches) == ([ref], [])
    Publisher(cast(Any, client), state)._process(ref, {ADD_FINALIZER})
    patch = {"metadata": {"finalizers": [FINALIZER], "resourceVersion": "7"}}
    assert client.patches == [(object_path(ref), patch)]
    with_it = body(alert("acme"), resourceVersion="8", finalizers=[FINALIZER])
    handlers.on_object({"type": "MODIFIED", "object": with_it})
    assert queued == [ref]  # already there: nothing more to do


# -- the core reconciler on the cluster state --------------------------------------------
def test_cluster_reconciler_enforces_binding_and_drops_the_live_version(tmp_path: Path) -> None:
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    published: list[ObjectRef] = []
    state.on_status.append(published.extend)
    rec = ClusterReconciler(state, SyncSettings(out_dir=tmp_path))
    state.observe(body(alert("acme")))
    state.observe(body(receiver("acme")))
    rec.sync_all()
    rules = tmp_path / "rules" / "acme.yml"
    assert rules.exists()
    entry = state.entry(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"))
    assert entry is not None
    assert (entry.status.phase, entry.status.live_generation) == ("Synced", 1)
    assert len(published) == 2

    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "globex"}})
    touched, _ = state.changed_since(0)
    assert touched == {"acme"}
    rec.sync(touched)
    assert entry.status.phase == "Invalid"
    message = entry.status.conditions[0]["message"]
    assert message.startswith('spec.customerId: namespace "acme" is bound to globex')
    assert not rules.exists()  # a binding violation keeps no last valid version live


def test_an_object_in_an_unbound_namespace_takes_none_of_the_customers_names(
    tmp_path: Path,
) -> None:
    """globex's namespace holding an (older) receiver claiming acme's name does not make
    acme's own receiver of that name a duplicate: only the squatter is Invalid."""
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    state.set_namespace("globex", {"labels": {"alertplane.io/customer": "globex"}})
    squatter = receiver("acme")
    squatter["metadata"]["namespace"] = "globex"
    state.observe(body(squatter))
    state.observe(body(receiver("acme")))
    ClusterReconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
    own = state.entry(ObjectRef("CustomerReceiver", "acme", "acme-oncall"))
    other = state.entry(ObjectRef("CustomerReceiver", "globex", "acme-oncall"))
    assert own is not None and other is not None
    assert (own.status.phase, other.status.phase) == ("Synced", "Invalid")
    messages = [c.get("message", "") for c in other.status.conditions]
    assert any('namespace "globex" is bound to globex' in m for m in messages), messages
    assert not any("duplicate" in str(c).lower() for c in own.status.conditions)


def test_cluster_reconciler_keeps_last_valid_version_from_the_database(tmp_path: Path) -> None:
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    good = alert("acme")
    bad = alert("acme", expr="rate(errors_total[5m]) > 1")
    state.observe(body(bad, generation=2))
    state.seed_live({ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"): (1, good["spec"])})
    ClusterReconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
    entry = state.entry(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"))
    assert entry is not None and entry.status.phase == "Invalid"
    assert entry.status.conditions[1]["reason"] == "Superseded"
    assert good["spec"]["expr"] in (tmp_path / "rules" / "acme.yml").read_text()


# -- the database mirror -----------------------------------------------------------------
def _audit(url: str) -> list[tuple[str, str, int, str]]:
    from alertplane.store.db import open_db

    with open_db(url)() as s:
        rows = s.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        return [(r.action, r.name, r.generation, r.actor) for r in rows]


def test_mirror_writes_each_change_once(db_url: str) -> None:
    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    state.on_change.append(mirror.record)
    secret = receiver("acme", slack=[{"apiURL": "https://hooks.example/SUPERSECRET"}])
    managed = [{"manager": "kubectl-client-side-apply", "time": "2024-01-01T00:00:00Z",
                "fieldsV1": {"f:spec": {}}}]  # fmt: skip
    state.observe(body(alert("acme"), managedFields=managed))
    state.observe(body(secret))
    mirror.flush()
    assert mirror.mirrored(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")) == (True, "")
    state.observe(body(alert("acme", enabled=False), generation=2))
    state.observe(body(alert("acme", enabled=False), generation=2))  # same again: no row
    state.forget("CustomerReceiver", "acme", "acme-oncall")
    mirror.flush()
    assert _audit(db_url) == [
        ("create", "acme-higherrorrate", 1, "kubectl-client-side-apply"),
        ("create", "acme-oncall", 1, "unknown"),
        ("disable", "acme-higherrorrate", 2, "unknown"),
        ("delete", "acme-oncall", 1, "unknown"),
    ]

    # A restarted operator compares everything once: nothing is recorded twice, and what
    # vanished while it was down is recorded as deleted.
    restarted = ClusterState()
    restarted.observe(body(alert("globex")))
    again = Mirror(db_url, restarted.snapshot, set())
    again.flush()
    again.flush()
    assert _audit(db_url)[4:] == [
        ("create", "globex-higherrorrate", 1, "unknown"),
        ("delete", "acme-higherrorrate", 2, "unknown"),
    ]
    from alertplane.store.db import open_db

    with open_db(db_url)() as s:
        assert [r.name for r in s.scalars(select(ObjectRow))] == ["globex-higherrorrate"]
        dumped = json.dumps([r.after for r in s.scalars(select(AuditRow))])
    assert "SUPERSECRET" not in dumped


def test_mirror_reports_an_unreachable_database(tmp_path: Path) -> None:
    state = ClusterState()
    mirror = Mirror("postgresql://nobody@127.0.0.1:1/none", state.snapshot, set())
    state.on_change.append(mirror.record)
    state.observe(body(alert("acme")))
    assert mirror.load_live() == {}
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.flush()
    ok, message = mirror.mirrored(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"))
    assert not ok and "1 change(s) queued" in message


def _outage(db_url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """A real database failure and its end: PostgreSQL stops accepting connections (and
    drops those it has); SQLite's file is replaced with an empty database (no tables) and
    later restored from a copy, through SQLite's backup API as a live restore would be."""
    if db_url.startswith("sqlite"):
        path = make_url(db_url).database
        saved = sqlite3.connect(":memory:")

        def restore_sqlite(source: sqlite3.Connection) -> None:
            with closing(sqlite3.connect(cast(str, path))) as live:
                source.backup(live)

        with closing(sqlite3.connect(cast(str, path))) as live:
            live.backup(saved)
        return lambda: restore_sqlite(sqlite3.connect(":memory:")), lambda: restore_sqlite(saved)
    url = make_url(db_url)
    name = url.database

    def admin(sql: str) -> None:
        dsn = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)

    def stop() -> None:
        admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

    return stop, lambda: admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def test_mirror_compares_again_after_an_outage_once_the_queue_is_written(db_url: str) -> None:
    from alertplane.k8s.operator import _mirror_statuses
    from alertplane.store.db import open_db

    state = ClusterState()
    mirror = Mirror(db_url, state.snapshot, set())
    state.on_change.append(mirror.record)
    mirror.on_created.append(lambda refs: _mirror_statuses(state, mirror, refs))
    state.observe(body(alert("acme")))
    shown = {"observedGeneration": 1, "phase": "Synced", "conditions": []}
    state.observe({**body(receiver("acme")), "status": shown})
    mirror.flush()
    rule = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    oncall = ObjectRef("CustomerReceiver", "acme", "acme-oncall")

    def by(manager: str) -> list[dict[str, Any]]:
        return [{"manager": manager, "time": "2024-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}}]

    stop, restore = _outage(db_url)
    stop()
    state.observe(body(alert("acme", enabled=False), generation=2, managedFields=by("alice")))
    state.observe(body(alert("acme"), generation=3, managedFields=by("bob")))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        mirror.flush()
    ok, message = mirror.mirrored(rule)
    assert not ok and "2 change(s) queued" in message
    assert mirror.mirrored(oncall) == (True, "")  # only queued changes are pending

    # The database comes back from a backup older than the receiver's creation.
    restore()
    with open_db(db_url).begin() as s:
        row = s.scalars(select(ObjectRow).where(ObjectRow.name == "acme-oncall")).one()
        s.execute(delete(StatusRow).where(StatusRow.object_id == row.id))
        s.execute(delete(AuditRow).where(AuditRow.name == "acme-oncall"))
        s.delete(row)
    assert mirror.flush() == [rule]
    mirror.flush()
    assert _audit(db_url) == [
        ("create", "acme-higherrorrate", 1, "unknown"),
        ("disable", "acme-higherrorrate", 2, "alice"),  # the outage's changes, in order...
        ("enable", "acme-higherrorrate", 3, "bob"),
        ("create", "acme-oncall", 1, "unknown"),  # ...then the comparison, once
    ]
    assert mirror.mirrored(rule) == mirror.mirrored(oncall) == (True, "")
    # The recreated row carries the object's status again, not a fresh Pending one.
    with open_db(db_url)() as s:
        row = s.scalars(select(ObjectRow).where(ObjectRow.name == "acme-oncall")).one()
        status = s.get(StatusRow, row.id)
        assert status is not None
        assert (status.phase, status.observed_generation) == ("Synced", 1)


# -- prometheus-operator translation ------------------------------------------------------
def _receiver(manifest: dict[str, Any]) -> CustomerReceiver:
    obj, problems = parse_document(manifest)
    assert isinstance(obj, CustomerReceiver), problems
    return obj


def test_alertmanager_config_keeps_routes_isolated_and_secrets_out() -> None:
    platform = PlatformConfig.model_validate(
        {"secretsDir": "@", "alertmanager": {"defaultReceiver": {"webhook_configs": [
            {"url": "http://platform.example/hook"}]}}}
    )  # fmt: skip
    pager = _receiver(
        receiver(
            "acme",
            name="pager",
            webhook=[],
            pagerduty=[{"routingKeySecretRef": {"name": "pd", "key": "rk"}}],
            route={"priority": 1, "match": {"severity": ["critical", "warning"],
                                            "labels": {"team": 'a"b'}}},
        )
    )  # fmt: skip
    chat = _receiver(receiver("acme", name="chat", webhook=[], slack=[{"apiURL": "https://s/x"}]))
    spec, keys = alertmanager_config(
        "acme", [("team-a", pager.spec), ("team-a", chat.spec)], platform
    )
    route = spec["route"]
    assert route["matchers"] == [{"name": "customer_id", "value": "acme", "matchType": "="}]
    assert route["receiver"] == FALLBACK_RECEIVER and "continue" not in route
    first = route["routes"][0]
    assert first["receiver"] == "pager"
    assert first["matchers"] == [
        {"name": "severity", "value": "critical|warning", "matchType": "=~"},
        {"name": "team", "value": 'a"b', "matchType": "="},
    ]
    names = [r["name"] for r in spec["receivers"]]
    assert names == [FALLBACK_RECEIVER, "chat", "pager"]
    assert spec["receivers"][0]["webhookConfigs"] == [{"url": "http://platform.example/hook"}]
    assert spec["receivers"][2]["pagerdutyConfigs"][0]["routingKey"] == {
        "name": "alertplane-acme",
        "key": "team-a.pd.rk",
    }
    assert keys["team-a.pd.rk"] == ("team-a", "pd", "rk")
    slack_ref = spec["receivers"][1]["slackConfigs"][0]["apiURL"]
    assert keys[slack_ref["key"]] == "https://s/x"  # clear text goes to the Secret only
    assert "https://s/x" not in json.dumps(spec)


def test_operator_command_refuses_incomplete_options(capsys: pytest.CaptureFixture[str]) -> None:
    from alertplane.cli import main

    assert main(["operator", "--sink", "files"]) == 2
    assert "--sink files needs --out DIR" in capsys.readouterr().err
    assert main(["operator", "--sink", "configmap", "--webhook-port", "9443"]) == 2
    assert "--webhook-port needs --webhook-cert and --webhook-key" in capsys.readouterr().err

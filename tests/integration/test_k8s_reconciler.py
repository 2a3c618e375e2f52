"""The core reconciler driven from the operator's cluster state into the files sink (real
promtool/amtool): binding enforced, the last valid version kept."""

from __future__ import annotations

from pathlib import Path

from alertplane.errors import ObjectRef
from alertplane.k8s.reconciler import cluster_reconciler
from alertplane.k8s.state import ClusterState
from alertplane.sync import SyncSettings
from tests.support.factories import alert, body, receiver


def test_cluster_reconciler_enforces_binding_and_drops_the_live_version(tmp_path: Path) -> None:
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    published: list[ObjectRef] = []
    state.on_status.append(published.extend)
    rec = cluster_reconciler(state, SyncSettings(out_dir=tmp_path))
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
    cluster_reconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
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
    cluster_reconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
    entry = state.entry(ObjectRef("CustomerAlert", "acme", "acme-higherrorrate"))
    assert entry is not None and entry.status.phase == "Invalid"
    assert entry.status.conditions[1]["reason"] == "Superseded"
    assert good["spec"]["expr"] in (tmp_path / "rules" / "acme.yml").read_text()

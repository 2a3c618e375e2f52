"""The operator's view of the cluster (k8s/state.py): only real changes reach the reconciler,
scope and recreated objects."""

from __future__ import annotations

from typing import Any

from alertplane.errors import ObjectRef
from alertplane.k8s.state import ClusterState
from tests.support.factories import alert, body


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

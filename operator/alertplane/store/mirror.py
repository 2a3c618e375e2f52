"""The database side of the operator's mirror (k8s/mirror.py): writing the cluster's
objects, their audit rows and statuses into the store's tables.

Only store/ maps rows; the mirror hands over changes (anything shaped like `MirrorChange`,
k8s/changes.py's `Change`) and statuses and gets back what it asked, never a row.
Writes are idempotent: a change already in the database writes nothing (no duplicate
audit row), so the mirror may replay or compare everything after a restart or an outage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ObjectRef
from ..model.records import ObjectStatus
from ..model.secrets import REDACTED, redact
from .mapping import status_columns
from .tables import AuditRow, ObjectRow, StatusRow
from .writes import audit_action

PLACEMENT = "Placement"  # the kind of a move's audit row (store/repo.py's record_move too)


class MirrorMove(Protocol):
    """A finished shard move (k8s/changes.py's `MoveEntry`)."""

    @property
    def customer_id(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def target(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def time(self) -> datetime: ...


class MirrorChange(Protocol):
    """One change of an object as the cluster saw it (spec None: deleted)."""

    @property
    def kind(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def customer_id(self) -> str: ...
    @property
    def generation(self) -> int: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def spec(self) -> dict[str, Any] | None: ...
    @property
    def actor(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def source(self) -> str: ...


def load_live(s: Session) -> dict[ObjectRef, tuple[int, dict[str, Any]]]:
    """The last valid version of every object that has one (and can be rendered: a
    redacted secret cannot)."""
    rows = s.execute(
        select(ObjectRow.kind, ObjectRow.namespace, ObjectRow.name, StatusRow)
        .join(StatusRow, StatusRow.object_id == ObjectRow.id)
        .where(StatusRow.live_spec.is_not(None))
    ).all()
    return {
        ObjectRef(kind, ns, name): (st.live_generation, st.live_spec)
        for kind, ns, name, st in rows
        if st.live_generation is not None
        and st.live_spec is not None
        and REDACTED not in repr(st.live_spec)
    }


def write_changes(s: Session, changes: Iterable[MirrorChange], source: str) -> list[ObjectRef]:
    """Write each change; the objects whose row this created. `source`: the cluster's
    name, for audit rows of deletions no change explains."""
    return [ObjectRef(c.kind, c.namespace, c.name) for c in changes if _write(s, c, source)]


def write_move(s: Session, m: MirrorMove) -> bool:
    """One `move` audit row of kind Placement, as standalone's `Store.record_move` writes
    it; False (nothing written) when the customer's latest Placement row already is this
    move: a write retried after its commit's answer was lost, or a second replica that
    finished the same move, must not double it. (The same move again after a move back
    whose row is missing would be dropped too: the history then reads as one move.)"""
    latest = s.scalars(
        select(AuditRow)
        .where(AuditRow.kind == PLACEMENT, AuditRow.namespace == "", AuditRow.name == m.customer_id)
        .order_by(AuditRow.id.desc())
        .limit(1)
    ).first()
    before = {"customerId": m.customer_id, "shard": m.source}
    after = {"customerId": m.customer_id, "shard": m.target}
    if latest is not None and (latest.before, latest.after) == (before, after):
        return False
    s.add(
        AuditRow(
            action="move",
            kind=PLACEMENT,
            namespace="",
            name=m.customer_id,
            customer_id=m.customer_id,
            generation=0,
            before=before,
            after=after,
            actor=m.actor,
            source="shards",
            time=m.time,
        )
    )
    return True


def delete_others(
    s: Session, keep: Collection[tuple[str, str, str]], scope: Collection[str], source: str
) -> None:
    """Delete (with an audit row) every object not in `keep` (kind, namespace, name), in
    the namespaces of `scope` (empty: all)."""
    for row in s.scalars(select(ObjectRow)).all():
        gone = (row.kind, row.namespace, row.name) not in keep
        if gone and (not scope or row.namespace in scope):
            _delete(s, row, "unknown", None, source)


def write_statuses(s: Session, statuses: Mapping[ObjectRef, ObjectStatus]) -> None:
    for ref, status in statuses.items():
        _write_status(s, ref, status)


def _find(s: Session, kind: str, namespace: str, name: str) -> ObjectRow | None:
    return s.scalars(
        select(ObjectRow).where(
            ObjectRow.kind == kind, ObjectRow.namespace == namespace, ObjectRow.name == name
        )
    ).first()


def _write(s: Session, c: MirrorChange, source: str) -> bool:
    """Idempotent: a change already in the database writes nothing (no duplicate audit).
    True when it created the object's row."""
    row = _find(s, c.kind, c.namespace, c.name)
    if c.spec is None:
        if row is not None:
            _delete(s, row, c.actor, c, source)
        return False
    spec = redact(c.spec) or {}
    if row is None:
        row = ObjectRow(
            kind=c.kind,
            namespace=c.namespace,
            name=c.name,
            customer_id=c.customer_id,
            generation=c.generation,
            labels=c.labels,
            spec=spec,
            created_at=c.time,
            updated_at=c.time,
        )
        s.add(row)
        s.flush()
        s.add(StatusRow(object_id=row.id, phase="Pending", conditions=[], rendered_to=[]))
        _audit(s, "create", row, None, spec, c, source)
        return True
    if row.labels != c.labels:
        row.labels = c.labels
    if row.spec == spec and row.generation == c.generation and row.customer_id == c.customer_id:
        return False
    before = row.spec
    row.spec, row.generation, row.customer_id, row.updated_at = (
        spec,
        c.generation,
        c.customer_id,
        c.time,
    )
    action = audit_action(before, spec) if before != spec else "update"
    _audit(s, "rollback" if c.source == "rollback" else action, row, before, spec, c, source)
    return False


def _delete(s: Session, row: ObjectRow, actor: str, c: MirrorChange | None, source: str) -> None:
    _audit(s, "delete", row, row.spec, None, c, source, actor)
    st = s.get(StatusRow, row.id)
    if st is not None:
        s.delete(st)
    s.delete(row)


def _audit(
    s: Session,
    action: str,
    row: ObjectRow,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    c: MirrorChange | None,
    source: str,
    actor: str | None = None,
) -> None:
    """One audit row; without a change (a deletion found by the comparison at start) the
    source is the cluster's and the time now."""
    s.add(
        AuditRow(
            action=action,
            kind=row.kind,
            namespace=row.namespace,
            name=row.name,
            customer_id=row.customer_id,
            generation=row.generation,
            before=before,
            after=after,
            actor=actor if actor is not None else (c.actor if c is not None else "unknown"),
            source=c.source if c is not None else source,
            **({"time": c.time} if c is not None else {}),
        )
    )


def _write_status(s: Session, ref: ObjectRef, status: ObjectStatus) -> None:
    row = _find(s, ref.kind, ref.namespace, ref.name)
    if row is None:
        return
    st = s.get(StatusRow, row.id)
    if st is None:
        st = StatusRow(object_id=row.id)
        s.add(st)
    for key, value in status_columns(status).items():
        setattr(st, key, redact(value) if key == "live_spec" else value)

"""Store operations every door uses: apply, delete, get, history, rollback, status.

Every change writes exactly one audit row in the same transaction as the change, so the
audit log is complete by construction; its increasing id is also the change feed the
reconciler polls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ObjectRef, UsageError
from ..model import API_VERSION, Resource
from ..model.common import dump_spec
from .secrets import extract_secrets, redact, write_secret
from .tables import AuditRow, ObjectRow, StatusRow, SyncRunRow, utcnow


@dataclass(frozen=True)
class Change:
    ref: ObjectRef
    action: str  # created configured unchanged deleted rolled-back
    generation: int

    def __str__(self) -> str:
        return f"{self.ref.kind.lower()}/{self.ref.name} {self.action}"


@dataclass(frozen=True)
class Stored:
    """An object as stored, with its status: what `get` shows and the reconciler reads."""

    row: ObjectRow
    status: StatusRow | None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.row.kind, self.row.namespace, self.row.name)

    def manifest(
        self, spec: dict[str, Any] | None = None, with_status: bool = True
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.row.name, "namespace": self.row.namespace}
        if self.row.labels:
            meta["labels"] = self.row.labels
        meta["generation"] = self.row.generation
        out: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": self.row.kind,
            "metadata": meta,
            "spec": redact(spec if spec is not None else self.row.spec),
        }
        if with_status and self.status is not None:
            out["status"] = status_dict(self.status)
        return out


def status_dict(st: StatusRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "observedGeneration": st.observed_generation,
        "phase": st.phase,
        "conditions": st.conditions,
        "renderedTo": st.rendered_to,
    }
    if st.last_sync_time is not None:
        out["lastSyncTime"] = _iso(st.last_sync_time)
    return out


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, sessions: sessionmaker[Session], secrets_dir: str | None = None) -> None:
        self.sessions = sessions
        self.secrets_dir = secrets_dir

    # -- writes -----------------------------------------------------------------------
    def apply(self, objects: Sequence[Resource], actor: str, source: str) -> list[Change]:
        changes = []
        with self.sessions.begin() as s:
            for obj in objects:
                changes.append(self._apply_one(s, obj, actor, source))
        return changes

    def _apply_one(self, s: Session, obj: Resource, actor: str, source: str) -> Change:
        ref = ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)
        spec, secrets = extract_secrets(obj.kind, obj.metadata.name, dump_spec(obj.spec))
        secret_changed = False
        for (name, key), value in secrets.items():
            if self.secrets_dir is None:
                raise UsageError(
                    f"{ref}: clear-text secrets need a secrets directory",
                    "set secretsDir in the platform config, or use apiURLSecretRef/"
                    "routingKeySecretRef",
                )
            secret_changed |= write_secret(self.secrets_dir, ref.namespace, name, key, value)
        row = self._row(s, ref)
        labels = dict(obj.metadata.labels)
        if row is None:
            row = ObjectRow(
                kind=ref.kind,
                namespace=ref.namespace,
                name=ref.name,
                customer_id=obj.spec.customer_id,
                generation=1,
                labels=labels,
                spec=spec,
            )
            s.add(row)
            s.flush()
            s.add(StatusRow(object_id=row.id, phase="Pending", conditions=[], rendered_to=[]))
            self._audit(s, "create", row, None, spec, actor, source)
            return Change(ref, "created", 1)
        if row.spec == spec and row.labels == labels and row.customer_id == obj.spec.customer_id:
            return Change(ref, "configured" if secret_changed else "unchanged", row.generation)
        before = row.spec
        action = _action(before, spec)
        row.spec, row.labels, row.customer_id = spec, labels, obj.spec.customer_id
        row.generation += 1
        row.updated_at = utcnow()
        self._audit(s, action, row, before, spec, actor, source)
        return Change(ref, "configured", row.generation)

    def delete(
        self, refs: Iterable[ObjectRef], actor: str, source: str, missing_ok: bool = False
    ) -> list[Change]:
        """Delete in one transaction; with `missing_ok`, absent objects are skipped (and
        returned as "not found" changes) instead of failing the whole batch, as kubectl does."""
        changes = []
        with self.sessions.begin() as s:
            for ref in refs:
                row = self._row(s, ref)
                if row is None:
                    if missing_ok:
                        changes.append(Change(ref, "not found", 0))
                        continue
                    raise UsageError(f"{ref} not found", "list objects with 'alertplane get'")
                self._audit(s, "delete", row, row.spec, None, actor, source)
                st = s.get(StatusRow, row.id)
                if st is not None:
                    s.delete(st)
                s.delete(row)
                changes.append(Change(ref, "deleted", row.generation))
        return changes

    def rollback(
        self, ref: ObjectRef, generation: int, actor: str, source: str = "rollback"
    ) -> Change:
        with self.sessions.begin() as s:
            row = self._row(s, ref)
            if row is None:
                raise UsageError(f"{ref} not found", "deleted objects are re-created with apply")
            target = s.scalars(
                select(AuditRow)
                .where(
                    AuditRow.kind == ref.kind,
                    AuditRow.namespace == ref.namespace,
                    AuditRow.name == ref.name,
                    AuditRow.generation == generation,
                    AuditRow.after.is_not(None),
                )
                .order_by(AuditRow.id.desc())
            ).first()
            if target is None or target.after is None:
                raise UsageError(
                    f"{ref} has no version {generation}",
                    "see the versions with 'alertplane history'",
                )
            if target.after == row.spec:
                return Change(ref, "unchanged", row.generation)
            before = row.spec
            row.spec = target.after
            # A version may belong to another customer id (the id is part of the spec).
            row.customer_id = str(target.after.get("customerId", row.customer_id))
            row.generation += 1
            row.updated_at = utcnow()
            self._audit(s, "rollback", row, before, row.spec, actor, source)
            return Change(ref, "rolled-back", row.generation)

    # -- reads ------------------------------------------------------------------------
    def get(
        self,
        kind: str | None = None,
        customer: str | None = None,
        customers: Iterable[str] | None = None,
    ) -> list[Stored]:
        with self.sessions() as s:
            q = select(ObjectRow, StatusRow).outerjoin(
                StatusRow, StatusRow.object_id == ObjectRow.id
            )
            if kind is not None:
                q = q.where(ObjectRow.kind == kind)
            if customer is not None:
                q = q.where(ObjectRow.customer_id == customer)
            if customers is not None:
                q = q.where(ObjectRow.customer_id.in_(list(customers)))
            q = q.order_by(
                ObjectRow.customer_id, ObjectRow.kind, ObjectRow.namespace, ObjectRow.name
            )
            return [Stored(o, st) for o, st in s.execute(q).all()]

    def history(
        self, customer: str | None = None, name: str | None = None, limit: int = 200
    ) -> list[AuditRow]:
        with self.sessions() as s:
            q = select(AuditRow)
            if customer is not None:
                q = q.where(AuditRow.customer_id == customer)
            if name is not None:
                q = q.where(AuditRow.name == name)
            return list(s.scalars(q.order_by(AuditRow.id.desc()).limit(limit)))[::-1]

    def customers(self) -> list[str]:
        with self.sessions() as s:
            return list(
                s.scalars(select(ObjectRow.customer_id).distinct().order_by(ObjectRow.customer_id))
            )

    def phase_counts(self) -> dict[tuple[str, str], int]:
        with self.sessions() as s:
            rows = s.execute(
                select(ObjectRow.kind, StatusRow.phase, func.count())
                .join(StatusRow, StatusRow.object_id == ObjectRow.id)
                .group_by(ObjectRow.kind, StatusRow.phase)
            ).all()
        return {(kind, phase): int(n) for kind, phase, n in rows}

    def change_marker(self) -> int:
        with self.sessions() as s:
            return int(s.scalar(select(func.max(AuditRow.id))) or 0)

    def changed_since(self, marker: int) -> tuple[set[str], int]:
        """Customers touched by changes after `marker`, and the new marker."""
        with self.sessions() as s:
            rows = s.execute(
                select(AuditRow.id, AuditRow.customer_id, AuditRow.before, AuditRow.after)
                .where(AuditRow.id > marker)
                .order_by(AuditRow.id)
            ).all()
        touched: set[str] = set()
        for row in rows:
            touched.add(row.customer_id)
            for spec in (row.before, row.after):  # a customerId edit moves an object
                if isinstance(spec, dict) and isinstance(spec.get("customerId"), str):
                    touched.add(spec["customerId"])
            marker = row.id
        return touched, marker

    # -- lookups for the REST API ------------------------------------------------------
    def find(self, ref: ObjectRef) -> Stored | None:
        """One object with its status, by identity."""
        with self.sessions() as s:
            found = s.execute(
                select(ObjectRow, StatusRow)
                .outerjoin(StatusRow, StatusRow.object_id == ObjectRow.id)
                .where(
                    ObjectRow.kind == ref.kind,
                    ObjectRow.namespace == ref.namespace,
                    ObjectRow.name == ref.name,
                )
            ).first()
        return None if found is None else Stored(found[0], found[1])

    def find_named(self, kind: str, customer: str, spec_name: str) -> Stored | None:
        """The object of a customer whose spec.alertName/receiverName is `spec_name`.

        When several carry the name (possible through apply, never through the API), the
        oldest wins: validation marks the later ones as the duplicates.
        """
        key = "alertName" if kind == "CustomerAlert" else "receiverName"
        with self.sessions() as s:
            found = s.execute(
                select(ObjectRow, StatusRow)
                .outerjoin(StatusRow, StatusRow.object_id == ObjectRow.id)
                .where(
                    ObjectRow.kind == kind,
                    ObjectRow.customer_id == customer,
                    ObjectRow.spec[key].as_string() == spec_name,
                )
                .order_by(ObjectRow.id)
            ).first()
        return None if found is None else Stored(found[0], found[1])

    def find_named_or_at(
        self, kind: str, customer: str, spec_name: str, ref: ObjectRef
    ) -> tuple[Stored | None, Stored | None]:
        """(`find_named(kind, customer, spec_name)`, `find(ref)`) in one query: what a
        create must check before it takes a name."""
        key = "alertName" if kind == "CustomerAlert" else "receiverName"
        with self.sessions() as s:
            rows = s.execute(
                select(ObjectRow, StatusRow)
                .outerjoin(StatusRow, StatusRow.object_id == ObjectRow.id)
                .where(
                    ObjectRow.kind == kind,
                    or_(
                        and_(
                            ObjectRow.customer_id == customer,
                            ObjectRow.spec[key].as_string() == spec_name,
                        ),
                        and_(ObjectRow.namespace == ref.namespace, ObjectRow.name == ref.name),
                    ),
                )
                .order_by(ObjectRow.id)
            ).all()
        found = [Stored(o, st) for o, st in rows]
        named = [f for f in found if f.row.customer_id == customer]
        named = [f for f in named if f.row.spec.get(key) == spec_name]
        return (named[0] if named else None), next((f for f in found if f.ref == ref), None)

    def owners(self, refs: Iterable[ObjectRef]) -> dict[ObjectRef, str]:
        """Customer of each of `refs` that exists."""
        wanted = set(refs)
        names = sorted({r.name for r in wanted})
        out: dict[ObjectRef, str] = {}
        with self.sessions() as s:
            for i in range(0, len(names), 500):
                rows = s.execute(
                    select(
                        ObjectRow.kind, ObjectRow.namespace, ObjectRow.name, ObjectRow.customer_id
                    ).where(ObjectRow.name.in_(names[i : i + 500]))
                ).all()
                for kind, namespace, name, customer in rows:
                    ref = ObjectRef(kind, namespace, name)
                    if ref in wanted:
                        out[ref] = customer
        return out

    def version(self, ref: ObjectRef, generation: int) -> dict[str, Any] | None:
        """The spec an object had at `generation` (what rollback would restore)."""
        with self.sessions() as s:
            return s.scalars(
                select(AuditRow.after)
                .where(
                    AuditRow.kind == ref.kind,
                    AuditRow.namespace == ref.namespace,
                    AuditRow.name == ref.name,
                    AuditRow.generation == generation,
                    AuditRow.after.is_not(None),
                )
                .order_by(AuditRow.id.desc())
            ).first()

    def customer_known(self, customer: str) -> bool:
        """The customer has objects, or had some (its audit trail still exists)."""
        with self.sessions() as s:
            for table in (ObjectRow, AuditRow):
                if s.scalar(select(table.id).where(table.customer_id == customer).limit(1)):
                    return True
        return False

    def known_customers(self) -> list[str]:
        """Customers with objects or an audit trail, sorted."""
        with self.sessions() as s:
            found = set(s.scalars(select(ObjectRow.customer_id).distinct()))
            found |= set(s.scalars(select(AuditRow.customer_id).distinct()))
        return sorted(found)

    def customer_counts(
        self, customers: Iterable[str] | None = None
    ) -> dict[str, dict[tuple[str, str], int]]:
        """customer → {(kind, phase): objects}; objects without status count as Pending."""
        with self.sessions() as s:
            q = (
                select(ObjectRow.customer_id, ObjectRow.kind, StatusRow.phase, func.count())
                .outerjoin(StatusRow, StatusRow.object_id == ObjectRow.id)
                .group_by(ObjectRow.customer_id, ObjectRow.kind, StatusRow.phase)
            )
            if customers is not None:
                q = q.where(ObjectRow.customer_id.in_(list(customers)))
            rows = s.execute(q).all()
        out: dict[str, dict[tuple[str, str], int]] = {}
        for customer, kind, phase, n in rows:
            counts = out.setdefault(customer, {})
            key = (kind, phase or "Pending")
            counts[key] = counts.get(key, 0) + int(n)
        return out

    def namespaces_of(self, customer: str) -> set[str]:
        with self.sessions() as s:
            return set(
                s.scalars(
                    select(ObjectRow.namespace).where(ObjectRow.customer_id == customer).distinct()
                )
            )

    # -- reconciler bookkeeping -------------------------------------------------------
    def save_statuses(self, updates: dict[int, dict[str, Any]]) -> None:
        with self.sessions.begin() as s:
            for object_id, values in updates.items():
                st = s.get(StatusRow, object_id)
                if st is None:
                    if s.get(ObjectRow, object_id) is None:
                        continue  # deleted while we were syncing
                    st = StatusRow(object_id=object_id)
                    s.add(st)
                for key, value in values.items():
                    setattr(st, key, value)

    def record_sync(self, **values: Any) -> None:
        with self.sessions.begin() as s:
            s.add(SyncRunRow(**values))

    # -- helpers ----------------------------------------------------------------------
    @staticmethod
    def _row(s: Session, ref: ObjectRef) -> ObjectRow | None:
        return s.scalars(
            select(ObjectRow).where(
                ObjectRow.kind == ref.kind,
                ObjectRow.namespace == ref.namespace,
                ObjectRow.name == ref.name,
            )
        ).first()

    @staticmethod
    def _audit(
        s: Session,
        action: str,
        row: ObjectRow,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        actor: str,
        source: str,
    ) -> None:
        s.add(
            AuditRow(
                action=action,
                kind=row.kind,
                namespace=row.namespace,
                name=row.name,
                customer_id=row.customer_id,
                generation=row.generation,
                before=redact(before),
                after=redact(after),
                actor=actor,
                source=source,
            )
        )


def _action(before: dict[str, Any], after: dict[str, Any]) -> str:
    """enable/disable when that is the only change, else update: the audit reads naturally."""
    if {k: v for k, v in before.items() if k != "enabled"} == {
        k: v for k, v in after.items() if k != "enabled"
    } and before.get("enabled", True) != after.get("enabled", True):
        return "enable" if after.get("enabled", True) else "disable"
    return "update"

"""The store every door uses: its writes (changes.py: apply, delete, rollback) and its
reads: objects as domain records, history, customers, the change feed, statuses.

Every change writes exactly one audit row in the same transaction as the change, so the
audit log is complete by construction; its increasing id is also the change feed the
reconciler polls.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ObjectRef
from ..model import NAME_FIELDS
from ..model.records import Concluded, ObjectRecord
from . import txn, writes
from .changes import Change, Changes
from .mapping import record_of, status_columns
from .tables import AuditRow, ObjectRow, StatusRow, SyncRunRow

SILENCE = "Silence"  # the kind of a silence's audit row (service/silences.py)

__all__ = ["Change", "Store"]


class Store(Changes):
    def __init__(self, sessions: sessionmaker[Session], secrets_dir: str | None = None) -> None:
        self.sessions = sessions
        self.secrets_dir = secrets_dir
        # Writes and lookups run on a plain connection (SQLAlchemy Core, see writes.py);
        # a Session would only add its bookkeeping.
        engine = sessions.kw["bind"]
        assert isinstance(engine, Engine), "the sessionmaker must be bound to an engine"
        self.engine = engine
        # None: every namespace; else the reads of objects and audit rows only see these
        # (Kubernetes mode with tenant binding: the namespaces bound to one customer).
        self.scope: frozenset[str] | None = None

    def within(self, namespaces: Collection[str] | None) -> Store:
        """This store, its reads restricted to objects (and audit rows) in `namespaces`
        (None: no restriction). Writes are not restricted: they are not made through it."""
        scoped = copy.copy(self)
        scoped.scope = None if namespaces is None else frozenset(namespaces)
        return scoped

    def _in_scope(self, namespace: str) -> bool:
        return self.scope is None or namespace in self.scope

    def _scoped(self, q: Select[Any], column: Any = ObjectRow.namespace) -> Select[Any]:
        return q if self.scope is None else q.where(column.in_(sorted(self.scope)))

    # -- reads ------------------------------------------------------------------------
    def get(
        self,
        kind: str | None = None,
        customer: str | None = None,
        customers: Iterable[str] | None = None,
    ) -> list[ObjectRecord]:
        q = writes.with_status()
        if kind is not None:
            q = q.where(ObjectRow.kind == kind)
        if customer is not None:
            q = q.where(ObjectRow.customer_id == customer)
        if customers is not None:
            q = q.where(ObjectRow.customer_id.in_(list(customers)))
        q = q.order_by(ObjectRow.customer_id, ObjectRow.kind, ObjectRow.namespace, ObjectRow.name)
        return self._records(self._scoped(q))

    def history(
        self, customer: str | None = None, name: str | None = None, limit: int = 200
    ) -> list[AuditRow]:
        with self.sessions() as s:
            q = select(AuditRow)
            if customer is not None:
                q = q.where(AuditRow.customer_id == customer)
            if name is not None:
                q = q.where(AuditRow.name == name)
            if self.scope is not None and customer is not None:
                # A customer's moves between shards have no namespace (Placement rows,
                # record_move and the operator's mirror): its own, so shown in its scope.
                q = q.where(
                    or_(
                        AuditRow.namespace.in_(sorted(self.scope)),
                        AuditRow.kind.in_(("Placement", SILENCE)),
                    )
                )
            else:
                q = self._scoped(q, AuditRow.namespace)
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
                select(
                    AuditRow.id,
                    AuditRow.kind,
                    AuditRow.customer_id,
                    AuditRow.before,
                    AuditRow.after,
                )
                .where(AuditRow.id > marker)
                .order_by(AuditRow.id)
            ).all()
        touched: set[str] = set()
        for row in rows:
            marker = row.id
            if row.kind == SILENCE:  # in Alertmanager only: nothing to render again
                continue
            touched.add(row.customer_id)
            for spec in (row.before, row.after):  # a customerId edit moves an object
                if isinstance(spec, dict) and isinstance(spec.get("customerId"), str):
                    touched.add(spec["customerId"])
        return touched, marker

    # -- lookups for the REST API ------------------------------------------------------
    def find(self, ref: ObjectRef) -> ObjectRecord | None:
        """One object with its status, by identity."""
        if not self._in_scope(ref.namespace):
            return None
        found = self._records(writes.with_status().where(writes.identity(ref)))
        return found[0] if found else None

    def find_named(self, kind: str, customer: str, spec_name: str) -> ObjectRecord | None:
        """The object of a customer whose spec.alertName/receiverName is `spec_name`.

        When several carry the name (possible through apply, never through the API), the
        oldest wins: validation marks the later ones as the duplicates.
        """
        key = NAME_FIELDS[kind]
        q = writes.with_status().where(
            ObjectRow.kind == kind,
            ObjectRow.customer_id == customer,
            ObjectRow.spec[key].as_string() == spec_name,
        )
        found = self._records(self._scoped(q).order_by(ObjectRow.id).limit(1))
        return found[0] if found else None

    def find_named_or_at(
        self, kind: str, customer: str, spec_name: str, ref: ObjectRef
    ) -> tuple[ObjectRecord | None, ObjectRecord | None]:
        """(`find_named(kind, customer, spec_name)`, `find(ref)`) in one query: what a
        create must check before it takes a name."""
        key = NAME_FIELDS[kind]
        params = {**writes.ref_params(ref), "kind": kind, "customer": customer}
        found = self._records(writes.NAMED_OR_AT[kind], {**params, "spec_name": spec_name})
        found = [f for f in found if self._in_scope(f.namespace)]
        named = [f for f in found if f.customer_id == customer]
        named = [f for f in named if f.spec.get(key) == spec_name]
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
                    if ref in wanted and self._in_scope(namespace):
                        out[ref] = customer
        return out

    def version(self, ref: ObjectRef, generation: int) -> dict[str, Any] | None:
        """The spec an object had at `generation` (what rollback would restore)."""
        if not self._in_scope(ref.namespace):
            return None
        with self.engine.connect() as conn:
            return writes.version(conn, ref, generation)

    def customer_known(self, customer: str) -> bool:
        """The customer has objects, or had some (its audit trail still exists)."""
        with self.sessions() as s:
            for table in (ObjectRow, AuditRow):
                q = select(table.id).where(table.customer_id == customer)
                q = self._scoped(q, table.namespace)
                if s.scalar(q.limit(1)):
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
            if self.scope is not None:
                q = q.where(ObjectRow.namespace.in_(sorted(self.scope)))
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
                    self._scoped(select(ObjectRow.namespace))
                    .where(ObjectRow.customer_id == customer)
                    .distinct()
                )
            )

    # -- reconciler bookkeeping -------------------------------------------------------
    def save_statuses(self, updates: Mapping[ObjectRef, Concluded]) -> None:
        """Keep what a sync concluded, for the object at each ref while that is still the
        one assessed (`serial`: the row's key): an object deleted, or deleted and created
        again, while the sync ran gets no stale status."""
        with self.sessions.begin() as s:
            for serial, status in updates.values():
                st = s.get(StatusRow, serial)
                if st is None:
                    if s.get(ObjectRow, serial) is None:
                        continue  # deleted while we were syncing
                    st = StatusRow(object_id=serial)
                    s.add(st)
                for key, value in status_columns(status).items():
                    setattr(st, key, value)

    def record_move(self, customer: str, source: str | None, target: str) -> None:
        """Audit a customer's rules moving between Prometheus shards (sinks/sharded_moves.py):
        a row of kind Placement named after the customer, its customer's to read."""
        ref = ObjectRef("Placement", "", customer)
        before = {"customerId": customer, "shard": source}
        after = {"customerId": customer, "shard": target}
        txn.run(
            self.engine,
            lambda tx: tx.audit("move", ref, customer, 0, before, after, "alertplane", "shards"),
        )

    def record_silence(
        self,
        action: str,
        customer: str,
        silence_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        actor: str,
        source: str,
    ) -> None:
        """Audit a change of a customer's silence (service/silences.py): silences live in
        Alertmanager, so the row (kind Silence, named by the silence id, no namespace) is
        their only trace here; its customer's to read, like a move's."""
        ref = ObjectRef(SILENCE, "", silence_id)
        txn.run(
            self.engine,
            lambda tx: tx.audit(action, ref, customer, 0, before, after, actor, source),
        )

    def record_sync(self, **values: Any) -> None:
        with self.sessions.begin() as s:
            s.add(SyncRunRow(**values))

    def _records(
        self, query: Select[Any], params: dict[str, Any] | None = None
    ) -> list[ObjectRecord]:
        """Objects with their status, read with Core: plain rows, no ORM loading (the
        identity map and instrumentation cost more than the query)."""
        with self.engine.connect() as conn:
            return [record_of(found) for found in conn.execute(query, params)]

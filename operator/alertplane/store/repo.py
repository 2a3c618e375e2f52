"""Store operations every door uses: apply, delete, get, history, rollback, status.

Every change writes exactly one audit row in the same transaction as the change, so the
audit log is complete by construction; its increasing id is also the change feed the
reconciler polls.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ObjectRef, UsageError
from ..model import NAME_FIELDS, Resource
from ..model.common import dump_spec
from . import txn, writes
from .secrets import extract_secrets, secret_differs, secret_folder, write_secret
from .stored import Stored, status_dict
from .tables import AuditRow, ObjectRow, StatusRow, SyncRunRow

__all__ = ["Change", "Store", "Stored", "status_dict"]


@dataclass(frozen=True)
class Change:
    ref: ObjectRef
    action: str  # created configured unchanged deleted rolled-back
    generation: int

    def __str__(self) -> str:
        return f"{self.ref.kind.lower()}/{self.ref.name} {self.action}"


class Store:
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

    # -- writes -----------------------------------------------------------------------
    # Every write runs in txn.run: read under a write lock, change conditionally, audit
    # rows last (in commit order). `expected` says what the caller expects an object to
    # be (txn.ABSENT, txn.EXISTS or a generation, HTTP If-Match); `txn.Stale` otherwise.
    def apply(
        self,
        objects: Sequence[Resource],
        actor: str,
        source: str,
        expected: Mapping[ObjectRef, txn.Expect] | None = None,
        moves: bool = True,
    ) -> list[Change]:
        """`moves`: an object of another customer at an identity is moved (`_move`; for
        admins' writes), else `txn.Owned` and nothing written (customers' writes)."""
        want = expected or {}

        def work(tx: txn.Tx) -> list[Change]:
            out: list[Change] = []
            files: list[tuple[str, str, str, str]] = []
            for obj in objects:
                ref = ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)
                out.append(self._apply_one(tx, obj, actor, source, want.get(ref), files, moves))
            # The files Alertmanager reads change only once every row of the batch is
            # written: a refused object (Stale, a move into a taken name) leaves them all.
            for folder, name, key, value in files:
                write_secret(str(self.secrets_dir), folder, name, key, value)
            return out

        return txn.run(self.engine, work)

    def _apply_one(
        self,
        tx: txn.Tx,
        obj: Resource,
        actor: str,
        source: str,
        expected: txn.Expect | None,
        files: list[tuple[str, str, str, str]],
        moves: bool = True,
    ) -> Change:
        """One object's rows; its secret files are added to `files` (folder, name, key,
        value) for the caller to write after every row."""
        ref = ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)
        customer = obj.spec.customer_id
        found = writes.current(tx.conn, ref)
        if found is None:
            txn.check(ref, expected, None)
        else:
            txn.check(ref, expected, found.generation, (found.spec, found.labels))
        if found is not None and found.customer_id != customer:
            if not moves:
                raise txn.Owned(ref)
            ref = self._move(tx, found, ref, customer, actor, source)
            found = writes.current(tx.conn, ref)
        spec, secrets = extract_secrets(
            obj.kind, obj.metadata.name, dump_spec(obj.spec), ref.namespace
        )
        secret_changed = False
        for (name, key), value in secrets.items():
            if self.secrets_dir is None:
                raise UsageError(
                    f"{ref}: clear-text secrets need a secrets directory",
                    "set secretsDir in the platform config, or use apiURLSecretRef/"
                    "routingKeySecretRef",
                )
            folder = secret_folder(customer)
            secret_changed |= secret_differs(self.secrets_dir, folder, name, key, value)
            files.append((folder, name, key, value))
        labels = dict(obj.metadata.labels)
        if found is None:
            writes.insert_object(tx.conn, ref, customer, labels, spec)
            tx.audit("create", ref, customer, 1, None, spec, actor, source)
            return Change(ref, "created", 1)
        if found.spec == spec and found.labels == labels and found.customer_id == customer:
            return Change(ref, "configured" if secret_changed else "unchanged", found.generation)
        generation = found.generation + 1
        if not writes.update_object(
            tx.conn, found.id, found.generation,
            spec=spec, labels=labels, customer_id=customer, generation=generation,
        ):  # fmt: skip
            raise txn.Raced
        action = _action(found.spec, spec)
        tx.audit(action, ref, customer, generation, found.spec, spec, actor, source)
        return Change(ref, "configured", generation)

    def _move(
        self, tx: txn.Tx, found: Any, ref: ObjectRef, customer: str, actor: str, source: str
    ) -> ObjectRef:
        """An object given to another customer (apply/import of its identity with another
        customerId) is not carried over: the old one is deleted (its history stays the old
        customer's) and the new customer's starts afresh, generation 1, in that customer's
        namespace (standalone: its id). The identity to write is returned."""
        if not writes.delete_object(tx.conn, found.id, found.generation):
            raise txn.Raced
        tx.audit(
            "delete", ref, found.customer_id, found.generation, found.spec, None, actor, source
        )
        home = ObjectRef(ref.kind, customer, ref.name)
        there = writes.current(tx.conn, home)
        if there is not None and there.customer_id != customer:
            raise UsageError(
                f"{ref}: cannot move it to customer {customer}: {home} belongs to another customer",
                "give the object another metadata.name",
            )
        return home

    def delete(
        self,
        refs: Iterable[ObjectRef],
        actor: str,
        source: str,
        missing_ok: bool = False,
        expected: Mapping[ObjectRef, int] | None = None,
    ) -> list[Change]:
        """Delete in one transaction; with `missing_ok`, absent objects are skipped (and
        returned as "not found" changes) instead of failing the whole batch, as kubectl does."""
        want, wanted = expected or {}, list(refs)

        def work(tx: txn.Tx) -> list[Change]:
            changes = []
            for ref in wanted:
                found = writes.current(tx.conn, ref)
                txn.check(ref, want.get(ref), None if found is None else found.generation)
                if found is None:
                    if missing_ok:
                        changes.append(Change(ref, "not found", 0))
                        continue
                    raise UsageError(f"{ref} not found", "list objects with 'alertplane get'")
                if not writes.delete_object(tx.conn, found.id, found.generation):
                    raise txn.Raced
                tx.audit(
                    "delete", ref, found.customer_id, found.generation, found.spec, None,
                    actor, source,
                )  # fmt: skip
                changes.append(Change(ref, "deleted", found.generation))
            return changes

        return txn.run(self.engine, work)

    def rollback(
        self,
        ref: ObjectRef,
        generation: int,
        actor: str,
        source: str = "rollback",
        expected: int | None = None,
    ) -> Change:
        def work(tx: txn.Tx) -> Change:
            found = writes.current(tx.conn, ref)
            txn.check(ref, expected, None if found is None else found.generation)
            if found is None:
                raise UsageError(f"{ref} not found", "deleted objects are re-created with apply")
            target = writes.version(tx.conn, ref, generation)
            if target is None:
                raise UsageError(
                    f"{ref} has no version {generation}",
                    "see the versions with 'alertplane history'",
                )
            if target == found.spec:
                return Change(ref, "unchanged", found.generation)
            # A version may belong to another customer id (the id is part of the spec).
            customer = str(target.get("customerId", found.customer_id))
            new = found.generation + 1
            if not writes.update_object(
                tx.conn, found.id, found.generation,
                spec=target, customer_id=customer, generation=new,
            ):  # fmt: skip
                raise txn.Raced
            tx.audit("rollback", ref, customer, new, found.spec, target, actor, source)
            return Change(ref, "rolled-back", new)

        return txn.run(self.engine, work)

    # -- reads ------------------------------------------------------------------------
    def get(
        self,
        kind: str | None = None,
        customer: str | None = None,
        customers: Iterable[str] | None = None,
    ) -> list[Stored]:
        q = writes.with_status()
        if kind is not None:
            q = q.where(ObjectRow.kind == kind)
        if customer is not None:
            q = q.where(ObjectRow.customer_id == customer)
        if customers is not None:
            q = q.where(ObjectRow.customer_id.in_(list(customers)))
        q = q.order_by(ObjectRow.customer_id, ObjectRow.kind, ObjectRow.namespace, ObjectRow.name)
        return self._stored(self._scoped(q))

    def history(
        self, customer: str | None = None, name: str | None = None, limit: int = 200
    ) -> list[AuditRow]:
        with self.sessions() as s:
            q = select(AuditRow)
            if customer is not None:
                q = q.where(AuditRow.customer_id == customer)
            if name is not None:
                q = q.where(AuditRow.name == name)
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
        if not self._in_scope(ref.namespace):
            return None
        found = self._stored(writes.with_status().where(writes.identity(ref)))
        return found[0] if found else None

    def find_named(self, kind: str, customer: str, spec_name: str) -> Stored | None:
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
        found = self._stored(self._scoped(q).order_by(ObjectRow.id).limit(1))
        return found[0] if found else None

    def find_named_or_at(
        self, kind: str, customer: str, spec_name: str, ref: ObjectRef
    ) -> tuple[Stored | None, Stored | None]:
        """(`find_named(kind, customer, spec_name)`, `find(ref)`) in one query: what a
        create must check before it takes a name."""
        key = NAME_FIELDS[kind]
        params = {**writes.ref_params(ref), "kind": kind, "customer": customer}
        found = self._stored(writes.NAMED_OR_AT[kind], {**params, "spec_name": spec_name})
        found = [f for f in found if self._in_scope(f.row.namespace)]
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

    def _stored(self, query: Select[Any], params: dict[str, Any] | None = None) -> list[Stored]:
        """Objects with their status, read with Core: plain row objects, no ORM loading
        (the identity map and instrumentation cost more than the query)."""
        with self.engine.connect() as conn:
            return [Stored(*writes.rows_of(found)) for found in conn.execute(query, params)]


def _action(before: dict[str, Any], after: dict[str, Any]) -> str:
    """enable/disable when that is the only change, else update: the audit reads naturally."""
    if {k: v for k, v in before.items() if k != "enabled"} == {
        k: v for k, v in after.items() if k != "enabled"
    } and before.get("enabled", True) != after.get("enabled", True):
        return "enable" if after.get("enabled", True) else "disable"
    return "update"

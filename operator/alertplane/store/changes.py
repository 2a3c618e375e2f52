"""The store's writes: apply, delete and rollback, each one transaction (txn.run) that
changes the rows and writes exactly one audit row per change.

`Store` (repo.py) is these plus its reads; they share only the engine and the secrets
directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ..errors import ObjectRef, UsageError
from ..model import Resource
from ..model.common import dump_spec
from ..render.secretfiles import secret_folder
from . import txn, writes
from .secrets import extract_secrets, secret_differs, write_secret


@dataclass(frozen=True)
class Change:
    ref: ObjectRef
    action: str  # created configured unchanged deleted rolled-back
    generation: int

    def __str__(self) -> str:
        return f"{self.ref.kind.lower()}/{self.ref.name} {self.action}"


class Changes:
    """The writes of `Store`."""

    engine: Engine
    secrets_dir: str | None

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
        action = writes.audit_action(found.spec, spec)
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

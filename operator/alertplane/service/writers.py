"""Where the API's writes go: the one seam between standalone and Kubernetes mode.

Reads always come from the `Store` (in Kubernetes mode, the operator's mirror of the
cluster, same tables). Writes go through a `Writer`: in standalone mode the store itself
(one audit row per change, then the in-process reconciler is woken); in Kubernetes mode
the custom resources (`kube.KubeWriter`), which the operator reconciles and mirrors. So
`crud`, `customers` and `transfer` are one code path for both modes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from ..errors import Conflict, ObjectRef
from ..kube.answers import already_exists
from ..model import Resource
from ..model.records import ObjectRecord
from ..store.repo import Change, Store
from ..store.txn import ABSENT, Expect, Owned, Stale
from ..sync import Reconciler

# What each object must be for a write to happen (store/txn.py); None: anything.
Expected = Mapping[ObjectRef, Expect] | None


class Writer(Protocol):
    def namespace_for(self, customer: str) -> str:
        """The namespace a customer's new objects are created in."""
        ...

    def create(self, obj: Resource, actor: str, source: str, fallback: str | None = None) -> Change:
        """Create `obj`, never replace an object: `Conflict` when its name is taken (in
        Kubernetes mode, first retried once at `fallback`, the salted name; the change's
        ref says which name it got)."""
        ...

    def apply(
        self, objects: Sequence[Resource], actor: str, source: str, expected: Expected = None
    ) -> list[Change]:
        """Create or replace `objects`, all or none; afterwards reads see them. `expected`:
        what each object must be for the write to happen (store/txn.py: ABSENT, EXISTS, a
        generation, or the object as read); `Stale` and nothing written otherwise."""
        ...

    def delete(
        self, ref: ObjectRef, actor: str, source: str, expected: int | None = None
    ) -> None: ...

    def rollback(
        self,
        ref: ObjectRef,
        version: int,
        obj: Resource,
        actor: str,
        source: str,
        expected: int | None = None,
    ) -> Change:
        """Restore `version` (already checked and built as `obj`) as a new change."""
        ...

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        """The object with its freshest status (what `?wait=true` polls)."""
        ...


@runtime_checkable
class Moving(Protocol):
    """A writer that can give a twin allowed to move objects between customers (admin
    imports): the store's and the custom resources' writers."""

    def moving(self) -> Writer: ...


@dataclass
class StoreWriter:
    """Standalone mode: the database is the truth."""

    store: Store
    reconciler: Reconciler | None
    # Whether a write may move another customer's object (store.changes.Changes._move): only
    # the admin's writer (`moving`); a customer's write is refused in the transaction,
    # whatever the API's earlier look at the owners saw.
    moves: bool = False

    def moving(self) -> StoreWriter:
        return replace(self, moves=True)

    def namespace_for(self, customer: str) -> str:
        return customer

    def create(self, obj: Resource, actor: str, source: str, fallback: str | None = None) -> Change:
        # The database is the truth here and crud.create checked the name in it; a create
        # racing another of the same name is refused by the store (ABSENT).
        ref = ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)
        try:
            (change,) = self.apply([obj], actor, source, {ref: ABSENT})
        except Stale:
            raise Conflict(already_exists(obj)) from None
        return change

    def apply(
        self, objects: Sequence[Resource], actor: str, source: str, expected: Expected = None
    ) -> list[Change]:
        try:
            changes = self.store.apply(objects, actor, source, expected, moves=self.moves)
        except Owned:
            raise Conflict(
                "the name is taken by an object this token cannot change; choose another "
                "metadata.name"
            ) from None
        self._notify()
        return changes

    def delete(self, ref: ObjectRef, actor: str, source: str, expected: int | None = None) -> None:
        want = None if expected is None else {ref: expected}
        self.store.delete([ref], actor, source, missing_ok=True, expected=want)
        self._notify()

    def rollback(
        self,
        ref: ObjectRef,
        version: int,
        obj: Resource,
        actor: str,
        source: str,
        expected: int | None = None,
    ) -> Change:
        # The store restores the audited spec itself (exactly, in one transaction).
        change = self.store.rollback(ref, version, actor, source, expected)
        self._notify()
        return change

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        return self.store.find(ref)

    def _notify(self) -> None:
        if self.reconciler is not None:
            self.reconciler.notify()


@dataclass
class SourcedWriter:
    """Another door (the console) writing through the API's functions: same writes, every
    one recorded with this door's source; the actor stays the token's name."""

    inner: Writer
    source: str

    def namespace_for(self, customer: str) -> str:
        return self.inner.namespace_for(customer)

    def create(self, obj: Resource, actor: str, source: str, fallback: str | None = None) -> Change:
        return self.inner.create(obj, actor, self.source, fallback)

    def apply(
        self, objects: Sequence[Resource], actor: str, source: str, expected: Expected = None
    ) -> list[Change]:
        return self.inner.apply(objects, actor, self.source, expected)

    def delete(self, ref: ObjectRef, actor: str, source: str, expected: int | None = None) -> None:
        self.inner.delete(ref, actor, self.source, expected)

    def rollback(
        self,
        ref: ObjectRef,
        version: int,
        obj: Resource,
        actor: str,
        source: str,
        expected: int | None = None,
    ) -> Change:
        return self.inner.rollback(ref, version, obj, actor, self.source, expected)

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        return self.inner.current(ref)

"""Tenant binding of the API's writes in Kubernetes mode: nothing is written into a
namespace not bound to the object's customer.

The bindings themselves (which namespace is bound to which customers, listed from the API
server and cached) are kube/namespaces.py; this wraps any `Writer` with that check, so it
belongs with the writers, not with the cluster I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Invalid, ObjectRef
from ..kube.namespaces import NamespaceBindings
from ..model import Resource
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..store.repo import Change
from .writers import Expected, Writer


@dataclass
class BoundWriter:
    """A writer that writes no customer's object into a namespace not bound to it."""

    inner: Writer
    bindings: NamespaceBindings

    def namespace_for(self, customer: str) -> str:
        return self.inner.namespace_for(customer)

    def _check(self, objects: Sequence[Resource]) -> None:
        # One look at the bindings for the whole batch (an import may name many namespaces).
        bindings = self.bindings.including({obj.metadata.namespace for obj in objects})
        problems = [
            p
            for obj in objects
            if (
                p := self.bindings.problem(
                    ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name),
                    obj.spec.customer_id,
                    self.namespace_for(obj.spec.customer_id),
                    bindings,
                    dump_spec(obj.spec),
                )
            )
            is not None
        ]
        if problems:
            raise Invalid(problems, "the namespace is not bound to the customer; nothing written")

    def create(self, obj: Resource, actor: str, source: str, fallback: str | None = None) -> Change:
        self._check([obj])  # the salted fallback name is in the same namespace
        return self.inner.create(obj, actor, source, fallback)

    def apply(
        self, objects: Sequence[Resource], actor: str, source: str, expected: Expected = None
    ) -> list[Change]:
        self._check(objects)
        return self.inner.apply(objects, actor, source, expected)

    def delete(self, ref: ObjectRef, actor: str, source: str, expected: int | None = None) -> None:
        # Deleting writes no customer's data; which objects a token may find to delete
        # is the context's lookup (bound namespaces only).
        self.inner.delete(ref, actor, source, expected)

    def rollback(
        self,
        ref: ObjectRef,
        version: int,
        obj: Resource,
        actor: str,
        source: str,
        expected: int | None = None,
    ) -> Change:
        self._check([obj])
        return self.inner.rollback(ref, version, obj, actor, source, expected)

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        return self.inner.current(ref)

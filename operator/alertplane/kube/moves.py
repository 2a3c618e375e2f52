"""Moves in Kubernetes mode: an admin's import of an object's identity with another
`customerId` (KubeWriter.moving).

As in standalone mode (store.changes.Changes._move), a moved object carries neither the old
customer's history nor its namespace: the old custom resource is deleted (the mirror
records that for the old customer) and the new customer's is created afresh (generation
1, a new uid) in the namespace `--customer-namespace` names for it. When that is the very
same identity, the create waits until the operator has finished the deletion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, ObjectRef, Unavailable
from ..model import Resource
from .answers import ref_of

GONE_WAIT_S = 30.0

Get = Callable[[ObjectRef], "dict[str, Any] | None"]


@dataclass
class Moves:
    """The objects an apply moves: the old identities to delete first."""

    old: list[tuple[ObjectRef, dict[str, Any]]] = field(default_factory=list)

    def plan(
        self, obj: Resource, ref: ObjectRef, live: dict[str, Any], home: str, get: Get
    ) -> tuple[Resource, ObjectRef, dict[str, Any] | None]:
        """The object to write instead (in the new customer's namespace `home`), its
        identity and what is there now (None: a create)."""
        self.old.append((ref, live))
        meta = obj.metadata.model_copy(update={"namespace": home})
        moved = obj.model_copy(update={"metadata": meta})
        target = ref_of(moved)
        if target == ref:
            return moved, target, None  # created again once the old one is gone
        there = get(target)
        owner = ((there or {}).get("spec") or {}).get("customerId")
        if there is not None and owner != obj.spec.customer_id:
            raise Conflict(
                f"cannot move {ref} to {target}: that name has another customer's object"
            )
        return moved, target, there

    def recreated(self, ref: ObjectRef) -> bool:
        """Whether `ref` is written again after its deletion (no dry run possible before)."""
        return any(old == ref for old, _ in self.old)

    def delete_old(self, delete: Callable[[ObjectRef, dict[str, Any]], None], get: Get) -> None:
        """Delete the old objects, and wait until they are gone (finalizer removed)."""
        for ref, live in self.old:
            delete(ref, live)
        deadline = time.monotonic() + GONE_WAIT_S
        for ref, _ in self.old:
            pause = 0.05
            while get(ref) is not None:
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        f"{ref} is still being deleted after {GONE_WAIT_S:.0f}s (is the "
                        "operator running?); import again once it is gone"
                    )
                time.sleep(pause)
                pause = min(pause * 1.5, 0.5)

"""Compact per-object records of the cluster state.

With 10,000 objects every byte per object is 10 KB of operator memory, and the operator
must stay within 150 MB. So the state keeps plain slotted records (not SQLAlchemy rows:
their instrumentation alone cost ~1.7 KB per object), conditions as tuples, short strings
interned (the same "critical", "5m", customer ids and time stamps are shared by every
object instead of one copy each from the JSON decoder), and of the status the cluster
shows only a digest: the publisher only needs to know whether it differs.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..store.repo import Stored
from ..store.tables import ObjectRow, StatusRow

# Strings up to this length are interned: enum values, names, durations, stamps. Longer
# ones (expressions, descriptions) are mostly unique, and interning them saves nothing.
_INTERN_MAX = 64
# The status fields the publisher composes; lastSyncTime is compared only for presence,
# so a sync that changed nothing but the time patches nothing (see status_digest).
_COMPARED = ("observedGeneration", "phase", "conditions", "renderedTo")
_CONDITION_KEYS = ("type", "status", "reason", "message", "lastTransitionTime")
Condition = tuple[str | None, ...]  # the values of _CONDITION_KEYS (None: absent)
NO_LABELS: dict[str, str] = {}  # shared by every object without labels; never mutated


def intern(value: str) -> str:
    return sys.intern(value) if len(value) <= _INTERN_MAX else value


def compact(value: Any) -> Any:
    """A deep copy of JSON data with interned keys and short strings."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, str):
        return intern(value)
    return value


@dataclass(slots=True)
class Row:
    """One object's identity and spec (what ObjectRow holds in the database)."""

    id: int
    kind: str
    namespace: str
    name: str
    customer_id: str
    generation: int
    labels: dict[str, str]
    spec: dict[str, Any]


@dataclass(slots=True)
class Status:
    """What the reconciler last concluded about an object (StatusRow's fields).

    Replaced, never changed in place, so a reader holding one sees a consistent status."""

    phase: str = "Pending"
    observed_generation: int = 0
    packed_conditions: tuple[Condition, ...] = ()
    rendered_to: tuple[str, ...] = ()
    last_sync_time: datetime | None = None
    live_generation: int | None = None
    live_spec: dict[str, Any] | None = None

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in zip(_CONDITION_KEYS, c, strict=True) if v is not None}
            for c in self.packed_conditions
        ]

    def stamped(self, last_sync_time: datetime | None) -> Status:
        return dataclasses.replace(self, last_sync_time=last_sync_time)

    def updated(self, values: Mapping[str, Any]) -> Status:
        """A copy with StatusRow column values (as sync.status_values gives them) applied."""
        changes = dict(values)
        if "conditions" in changes:
            changes["packed_conditions"] = pack_conditions(changes.pop("conditions"))
        if "rendered_to" in changes:
            changes["rendered_to"] = tuple(intern(str(r)) for r in changes["rendered_to"])
        if "phase" in changes:
            changes["phase"] = intern(changes["phase"])
        return dataclasses.replace(self, **changes)


def pack_conditions(conditions: Any) -> tuple[Condition, ...]:
    return tuple(
        tuple(None if c.get(k) is None else intern(str(c[k])) for k in _CONDITION_KEYS)
        for c in conditions or []
        if isinstance(c, dict)
    )


def status_digest(status: Mapping[str, Any]) -> bytes:
    """What of a status the publisher compares: equal digests mean nothing to patch.

    Keys the operator does not write are ignored; a null value is the same as an absent
    key (a merge patch deletes keys set to null); lastSyncTime counts only by presence:
    it is the time the output last changed or was confirmed, and restamping it alone is
    not worth a write per object on every restart.
    """
    compared = {k: status[k] for k in _COMPARED if status.get(k) is not None}
    compared["lastSyncTime"] = status.get("lastSyncTime") is not None
    text = json.dumps(compared, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def mirrored_condition(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(status, lastTransitionTime) of the Mirrored condition a status shows, if any."""
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Mirrored":
            return intern(str(c.get("status"))), intern(str(c.get("lastTransitionTime") or ""))
    return None


class ClusterStored(Stored):
    """A stored object whose manifest keeps the spec exactly as the cluster holds it.

    The database redacts clear-text secrets; the cluster's object is what gets rendered,
    so it must reach the renderer unredacted (the mirror redacts before writing).
    """

    def manifest(
        self, spec: dict[str, Any] | None = None, with_status: bool = True
    ) -> dict[str, Any]:
        out = super().manifest(spec, with_status)
        out["spec"] = copy.deepcopy(spec if spec is not None else self.row.spec)
        return out


def stored_view(r: Row, st: Status) -> ClusterStored:
    """The reconciler's view of an entry: short-lived ORM rows sharing the entry's data
    (built per sync chunk and dropped with it, so they cost no memory per object)."""
    row = ObjectRow(
        id=r.id,
        kind=r.kind,
        namespace=r.namespace,
        name=r.name,
        customer_id=r.customer_id,
        generation=r.generation,
        labels=r.labels,
        spec=r.spec,
    )
    status = StatusRow(
        object_id=r.id,
        phase=st.phase,
        observed_generation=st.observed_generation,
        conditions=st.conditions,
        rendered_to=list(st.rendered_to),
        last_sync_time=st.last_sync_time,
        live_generation=st.live_generation,
        live_spec=st.live_spec,
    )
    return ClusterStored(row, status)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None

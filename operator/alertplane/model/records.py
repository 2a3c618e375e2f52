"""Domain records: an object as every layer speaks of it, and the one time format.

`ObjectRecord` is an object as a source holds it (the store standalone, the cluster
state in Kubernetes mode) with its `ObjectStatus`, what the reconciler last concluded.
Only `store/` maps database rows to and from these; the reconciler, the API, the console
and the operator take records. `ObjectStatus.to_design()` is the one place the DESIGN
status shape (observedGeneration, phase, conditions, renderedTo, lastSyncTime) is
written, and `format_time`/`parse_time` the one place its time stamps are.

Compact by design: the operator keeps a record per object of the cluster and must stay
within its memory target at 10,000 objects, so records are slotted (no `__dict__`), the
identity is one shared `ObjectRef`, conditions are packed tuples of interned strings, and
a record is replaced, never changed in place (a reader holding one sees it consistent).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..errors import ObjectRef
from .common import API_VERSION
from .secrets import redact

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in UTC, whole seconds, as Kubernetes writes
# Strings up to this length are interned: enum values, names, durations, stamps. Longer
# ones (expressions, descriptions) are mostly unique, and interning them saves nothing.
_INTERN_MAX = 64
CONDITION_KEYS = ("type", "status", "reason", "message", "lastTransitionTime")
Condition = tuple[str | None, ...]  # the values of CONDITION_KEYS (None: absent)


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(ts: datetime | None = None) -> str:
    """A time stamp as the status, Events and health answers show it (None: now)."""
    return (ts or utcnow()).strftime(TIME_FORMAT)


def parse_time(value: object) -> datetime | None:
    """The time `format_time` wrote (None: not one)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def intern(value: str) -> str:
    return sys.intern(value) if len(value) <= _INTERN_MAX else value


def pack_conditions(conditions: Iterable[Any] | None) -> tuple[Condition, ...]:
    return tuple(
        tuple(None if c.get(k) is None else intern(str(c[k])) for k in CONDITION_KEYS)
        for c in conditions or []
        if isinstance(c, dict)
    )


@dataclass(slots=True)
class ObjectStatus:
    """What the reconciler last concluded about an object, and what of it is live."""

    phase: str = "Pending"
    observed_generation: int = 0
    packed_conditions: tuple[Condition, ...] = ()
    rendered_to: tuple[str, ...] = ()
    last_sync_time: datetime | None = None
    # The last valid spec and its generation: what stays live while a newer one is invalid.
    live_generation: int | None = None
    live_spec: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        phase: str = "Pending",
        observed_generation: int = 0,
        conditions: Iterable[Any] | None = (),
        rendered_to: Iterable[Any] | None = (),
        last_sync_time: datetime | None = None,
        live_generation: int | None = None,
        live_spec: dict[str, Any] | None = None,
    ) -> ObjectStatus:
        """A status from plain values (condition dicts, any iterable of paths)."""
        return cls(
            intern(phase),
            observed_generation,
            pack_conditions(conditions),
            tuple(intern(str(r)) for r in rendered_to or ()),
            last_sync_time,
            live_generation,
            live_spec,
        )

    @classmethod
    def from_design(cls, shown: dict[str, Any]) -> ObjectStatus:
        """A status as `to_design` shows it (a custom resource's), read back."""
        return cls.of(
            phase=str(shown.get("phase") or "Pending"),
            observed_generation=int(shown.get("observedGeneration") or 0),
            conditions=shown.get("conditions"),
            rendered_to=shown.get("renderedTo"),
            last_sync_time=parse_time(shown.get("lastSyncTime")),
        )

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in zip(CONDITION_KEYS, c, strict=True) if v is not None}
            for c in self.packed_conditions
        ]

    def to_design(self, locate: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The DESIGN status shape; `locate` turns a rendered path into where it is shown."""
        out: dict[str, Any] = {
            "observedGeneration": self.observed_generation,
            "phase": self.phase,
            "conditions": self.conditions,
            "renderedTo": [r if locate is None else locate(r) for r in self.rendered_to],
        }
        if self.last_sync_time is not None:
            out["lastSyncTime"] = format_time(self.last_sync_time)
        return out

    def stamped(self, last_sync_time: datetime | None) -> ObjectStatus:
        return replace(self, last_sync_time=last_sync_time)

    def without_live(self) -> ObjectStatus:
        return replace(self, live_generation=None, live_spec=None)


class Concluded(NamedTuple):
    """What a sync concluded about the incarnation `serial` of an object (see
    ObjectRecord.serial): its new status. A status without a live version keeps the one
    the source has: only a valid spec replaces the last valid version, nothing forgets it."""

    serial: int
    status: ObjectStatus


@dataclass(slots=True)
class ObjectRecord:
    """One object (CustomerAlert or CustomerReceiver) as its source holds it.

    `serial` orders a source's objects by creation (of two with one name, the later is
    the duplicate) and tells an object from one deleted and re-created under its name:
    the store's key of the row; in the cluster, the order the operator first saw it."""

    ref: ObjectRef
    serial: int
    customer_id: str
    generation: int
    labels: dict[str, str]
    spec: dict[str, Any]
    status: ObjectStatus | None = None
    created_at: datetime | None = None  # the store's; the cluster state keeps none

    @classmethod
    def from_manifest(cls, found: dict[str, Any], serial: int = 0) -> ObjectRecord:
        """A manifest as `manifest` writes it (a custom resource, with its status) read
        back; `serial` 0: not one of a source's objects."""
        meta, spec = found.get("metadata") or {}, found.get("spec") or {}
        shown = found.get("status")
        return cls(
            ref=ObjectRef(found.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")),
            serial=serial,
            customer_id=str(spec.get("customerId", "")),
            generation=int(meta.get("generation") or 1),
            labels=dict(meta.get("labels") or {}),
            spec=spec,
            status=ObjectStatus.from_design(shown if isinstance(shown, dict) else {}),
        )

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    @property
    def name(self) -> str:
        return self.ref.name

    def concluded(self, status: ObjectStatus) -> ObjectRecord:
        """This record with another status (the same object, the same incarnation)."""
        return replace(self, status=status)

    def manifest(
        self, spec: dict[str, Any] | None = None, with_status: bool = True, redacted: bool = True
    ) -> dict[str, Any]:
        """The object as a manifest (a copy: the caller may change it); `spec` instead of
        the record's; `redacted` replaces clear-text secrets (what is shown). Unredacted is
        what gets rendered: the cluster's objects may hold clear secrets, the store's never
        do (they become files before anything is stored)."""
        meta: dict[str, Any] = {"name": self.ref.name, "namespace": self.ref.namespace}
        if self.labels:
            meta["labels"] = self.labels
        meta["generation"] = self.generation
        body = spec if spec is not None else self.spec
        out: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": self.ref.kind,
            "metadata": meta,
            "spec": redact(body) if redacted else copy.deepcopy(body),
        }
        if with_status and self.status is not None:
            out["status"] = self.status.to_design()
        return out

    def view(self) -> dict[str, Any]:
        """The DESIGN shape every door shows; a status older than the spec reads Pending
        until the reconciler has looked at the new generation."""
        out = self.manifest(with_status=False)
        out["metadata"].setdefault("labels", {})
        status = (self.status or ObjectStatus()).to_design()
        if status["observedGeneration"] < self.generation:
            status["phase"] = "Pending"
        out["status"] = status
        return out

    def settled(self) -> bool:
        """The reconciler has concluded about the current generation."""
        st = self.status
        return (
            st is not None and st.observed_generation >= self.generation and st.phase != "Pending"
        )

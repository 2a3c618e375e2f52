"""The cluster's CustomerAlerts and CustomerReceivers, held in memory.

In Kubernetes mode the custom resources are the truth. This is the reconciler's object
source (sync.ObjectSource): kopf's watch events land here, and the reconciler reads the
desired state from here, never from the database, so a database outage cannot stop
reconciliation. It also keeps what the status publisher, the finalizers, the tenant
binding and the database mirror need to know about each object.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ObjectRef
from ..kube.binding import binding_of
from ..kube.kinds import PLURALS
from ..model import API_GROUP
from ..model.records import Concluded, ObjectRecord, ObjectStatus, intern, parse_time, utcnow
from .changes import SOURCE, Change, attribute
from .records import NO_LABELS, compact, mirrored_condition, status_digest

FINALIZER = f"{API_GROUP}/finalizer"
DELETE = -1  # the generation key of a deletion in the admission users


@dataclass(slots=True)
class Entry:
    record: ObjectRecord  # replaced, never changed in place: get() hands it out
    uid: str
    finalizers: tuple[str, ...]
    deleting: bool
    actor: str
    # Of the status last seen on (or patched to) the cluster, only what the publisher
    # needs: its digest (records.status_digest) and the Mirrored condition's transition.
    shown_digest: bytes = b""
    shown_mirrored: tuple[str, str] | None = None
    last_event: tuple[str, str] | None = None
    resource_version: str = ""  # of the version `finalizers` were read from
    source: str = SOURCE  # of the last change (see changes.attribute)

    @property
    def status(self) -> ObjectStatus:
        return self.record.status or ObjectStatus()

    def saw_status(self, status: Mapping[str, Any]) -> None:
        """The cluster shows this status (listed, watched, or the answer to our patch)."""
        self.shown_digest = status_digest(status)
        self.shown_mirrored = mirrored_condition(status)

    def shows(self, status: Mapping[str, Any]) -> bool:
        """Whether the cluster already shows `status` (up to lastSyncTime's value)."""
        return status_digest(status) == self.shown_digest


class ClusterState:
    def __init__(
        self,
        namespaces: Iterable[str] = (),
        api_user: str | None = None,
        attribution_key: bytes | None = None,
    ) -> None:
        """`api_user`: the REST API's ServiceAccount as the admission webhook names it; its
        annotations are then believed only for changes admitted for it. `attribution_key`:
        shared with the API; its annotations then need its signature (changes.attribute)."""
        self.scope = set(namespaces)  # empty: cluster-wide
        self.api_user = api_user
        self.attribution_key = attribution_key
        self._lock = threading.RLock()
        self._entries: dict[ObjectRef, Entry] = {}
        # Records' serials: the order objects were first seen (see ObjectRecord.serial).
        self._serials = itertools.count(1)
        self._seq = 0
        self._feed: list[tuple[int, frozenset[str]]] = []
        self.bindings: dict[str, str | None] = {}  # namespace → its tenant binding
        # (kind, namespace, name, generation or DELETE) → user, from the admission webhook
        self._admission_users: dict[tuple[str, str, str, int], str] = {}
        # Called under the state lock, so listeners see changes in order.
        self.on_change: list[Callable[[Change], None]] = []
        self.on_touch: list[Callable[[], None]] = []
        self.on_status: list[Callable[[list[ObjectRef]], None]] = []

    def in_scope(self, namespace: str | None) -> bool:
        return not self.scope or namespace in self.scope

    # -- events from the cluster ---------------------------------------------------------
    def observe(self, body: dict[str, Any]) -> Entry | None:
        """Take in an object as listed or watched; returns its entry (None: ignored)."""
        kind = body.get("kind", "")
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        if kind not in PLURALS or not name or not self.in_scope(ns):
            return None
        ref = ObjectRef(intern(kind), intern(ns), name)
        raw_spec = body.get("spec")
        spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
        raw_cid = spec.get("customerId")
        cid: str = raw_cid if isinstance(raw_cid, str) else ""
        generation = int(meta.get("generation") or 1)
        labels = compact(meta.get("labels")) or NO_LABELS
        deleting = bool(meta.get("deletionTimestamp"))
        uid = meta.get("uid", "")
        with self._lock:
            entry = self._entries.get(ref)
            if entry is not None and entry.uid != uid:  # deleted and created again
                self._drop(ref, actor="unknown")
                entry = None
            if entry is None:
                entry = self._new_entry(ref, uid, body)
                before_cid: str | None = None
                changed = True
            else:
                rec = entry.record
                before_cid = rec.customer_id
                changed = (
                    rec.generation != generation
                    or rec.spec != spec
                    or rec.customer_id != cid
                    or entry.deleting != deleting
                )
            entry.finalizers = tuple(intern(str(f)) for f in meta.get("finalizers") or ())
            entry.resource_version = str(meta.get("resourceVersion") or "")
            raw_status = body.get("status")
            entry.saw_status(raw_status if isinstance(raw_status, dict) else {})
            if not changed:
                if entry.record.labels != labels:
                    entry.record = _changed(entry.record, cid, generation, labels, spec)
                return entry
            entry.record = _changed(entry.record, cid, generation, labels, spec)
            was_deleting, entry.deleting = entry.deleting, deleting
            admitted = self._admitted(ref, DELETE if deleting else generation)
            entry.actor, entry.source = attribute(
                meta, deleting, admitted, self.api_user, self.attribution_key, spec
            )
            self._touch({cid} | ({before_cid} if before_cid is not None else set()))
            if not (was_deleting and deleting):
                self._emit(entry, deleted=deleting)
            return entry

    def admitted(self, ref: ObjectRef, generation: int, user: str) -> None:
        """The webhook let `user` write this generation (DELETE: delete the object)."""
        with self._lock:
            self._admission_users[(ref.kind, ref.namespace, ref.name, generation)] = user
            while len(self._admission_users) > 10_000:  # admitted, then never stored
                del self._admission_users[next(iter(self._admission_users))]

    def _admitted(self, ref: ObjectRef, generation: int) -> str:
        return self._admission_users.pop((ref.kind, ref.namespace, ref.name, generation), "")

    def forget(
        self, kind: str, namespace: str, name: str, meta: dict[str, Any] | None = None
    ) -> None:
        """The object is gone from the cluster (`meta`: its last metadata)."""
        with self._lock:
            ref = ObjectRef(kind, namespace, name)
            admitted = self._admitted(ref, DELETE)
            entry = self._entries.get(ref)
            spec = entry.record.spec if entry is not None else None
            who = attribute(meta or {}, True, admitted, self.api_user, self.attribution_key, spec)
            self._drop(ref, *who)

    def _drop(self, ref: ObjectRef, actor: str, source: str = SOURCE) -> None:
        entry = self._entries.pop(ref, None)
        if entry is None:
            return
        self._touch({entry.record.customer_id})
        if not entry.deleting:
            entry.actor, entry.source = actor, source
            self._emit(entry, deleted=True)

    def _new_entry(self, ref: ObjectRef, uid: str, body: dict[str, Any]) -> Entry:
        raw = body.get("status")
        previous: dict[str, Any] = raw if isinstance(raw, dict) else {}
        status = ObjectStatus.of(
            phase=str(previous.get("phase") or "Pending"),
            observed_generation=int(previous.get("observedGeneration") or 0),
            conditions=(
                c
                for c in previous.get("conditions") or []
                if isinstance(c, dict) and c.get("type") in ("Valid", "Synced")
            ),
            last_sync_time=parse_time(previous.get("lastSyncTime")),
        )
        serial = next(self._serials)
        placeholder = ObjectRecord(ref, serial, "", 0, NO_LABELS, {}, status)
        entry = Entry(placeholder, intern(uid), (), False, "")
        entry.saw_status(previous)
        self._entries[ref] = entry
        return entry

    def _emit(self, entry: Entry, deleted: bool) -> None:
        rec = entry.record
        change = Change(
            rec.kind,
            rec.namespace,
            rec.name,
            rec.customer_id,
            rec.generation,
            dict(rec.labels),
            None if deleted else copy.deepcopy(rec.spec),
            entry.actor or "unknown",
            utcnow(),
            entry.source,
        )
        for listener in self.on_change:
            listener(change)

    def set_namespace(self, name: str, meta: dict[str, Any] | None) -> None:
        """A namespace's metadata (None: it is gone); its customers resync on a new binding."""
        with self._lock:
            old = self.bindings.get(name)
            new = None if meta is None else binding_of(meta)
            if meta is None:
                self.bindings.pop(name, None)
            else:
                self.bindings[name] = new
            if old != new:
                self._touch(
                    {e.record.customer_id for r, e in self._entries.items() if r.namespace == name}
                )

    def touch(self, customers: Iterable[str]) -> None:
        with self._lock:
            self._touch(set(customers))

    def _touch(self, customers: set[str]) -> None:
        if not customers:
            return
        self._seq += 1
        self._feed.append((self._seq, frozenset(customers)))
        for wake in self.on_touch:
            wake()

    # -- reads for the operator ------------------------------------------------------------
    def entry(self, ref: ObjectRef) -> Entry | None:
        with self._lock:
            return self._entries.get(ref)

    def finalizer_meta(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The finalizers and resourceVersion last seen, read together (for add_finalizer)."""
        with self._lock:
            e = self._entries.get(ref)
            if e is None or e.deleting:
                return None
            return {"finalizers": list(e.finalizers), "resourceVersion": e.resource_version}

    def refs(self) -> list[ObjectRef]:
        with self._lock:
            return sorted(self._entries)

    def deleting(self, customers: Iterable[str] | None) -> list[ObjectRef]:
        wanted = None if customers is None else set(customers)
        with self._lock:
            return [
                ref
                for ref, e in self._entries.items()
                if e.deleting and (wanted is None or e.record.customer_id in wanted)
            ]

    def snapshot(self, taken: Callable[[], None] = lambda: None) -> list[Change]:
        """Every live object as a change (the mirror's full comparison after a restart);
        `taken` runs under the lock, before any later change can be emitted."""
        with self._lock:
            taken()
            return [
                Change(
                    e.record.kind,
                    e.record.namespace,
                    e.record.name,
                    e.record.customer_id,
                    e.record.generation,
                    dict(e.record.labels),
                    copy.deepcopy(e.record.spec),
                    e.actor or "unknown",
                    utcnow(),
                    e.source,
                )
                for e in self._entries.values()
                if not e.deleting
            ]

    def seed_live(self, live: dict[ObjectRef, tuple[int, dict[str, Any]]]) -> None:
        """Last valid versions remembered by the database: they stay live while invalid."""
        with self._lock:
            for ref, (generation, spec) in live.items():
                entry = self._entries.get(ref)
                if entry is not None and entry.status.live_spec is None:
                    status = replace(
                        entry.status, live_generation=generation, live_spec=compact(spec)
                    )
                    entry.record = entry.record.concluded(status)

    # -- sync.ObjectSource ------------------------------------------------------------
    def get(
        self,
        kind: str | None = None,
        customer: str | None = None,
        customers: Iterable[str] | None = None,
    ) -> list[ObjectRecord]:
        """The records themselves, not copies: they are replaced, never changed."""
        wanted = None if customers is None else set(customers)
        with self._lock:
            out = [
                e.record
                for e in self._entries.values()
                if not e.deleting
                and (kind is None or e.record.kind == kind)
                and (customer is None or e.record.customer_id == customer)
                and (wanted is None or e.record.customer_id in wanted)
            ]
        out.sort(key=lambda s: (s.customer_id, s.ref))
        return out

    def customers(self) -> list[str]:
        with self._lock:
            return sorted({e.record.customer_id for e in self._entries.values() if not e.deleting})

    def change_marker(self) -> int:
        with self._lock:
            return self._seq

    def changed_since(self, marker: int) -> tuple[set[str], int]:
        with self._lock:
            touched: set[str] = set()
            for seq, customers in self._feed:
                if seq > marker:
                    touched |= customers
            self._feed = [(s, c) for s, c in self._feed if s > marker]  # one consumer
            return touched, self._seq

    def save_statuses(self, updates: Mapping[ObjectRef, Concluded]) -> None:
        """Keep what a sync concluded, for the object at each ref while that is still the
        one assessed (same serial); listeners hear only of statuses that changed.

        A sync that concludes what was already known (a restart, a periodic resync, a
        sibling object's edit) keeps the earlier lastSyncTime: it means the last time the
        output changed or was confirmed, and restamping it alone would be a write per
        object to the cluster and the database.
        """
        refs: list[ObjectRef] = []
        with self._lock:
            for ref, (serial, new) in updates.items():
                entry = self._entries.get(ref)
                if entry is None or entry.record.serial != serial:
                    continue  # deleted (maybe created again) while syncing
                old = entry.status
                if new.live_generation is None:  # keeps the last valid version it has
                    new = replace(new, live_generation=old.live_generation, live_spec=old.live_spec)
                if old.last_sync_time is not None and new.stamped(old.last_sync_time) == old:
                    continue
                entry.record = entry.record.concluded(new)
                refs.append(ref)
        for listener in self.on_status:
            listener(refs)

    def record_sync(self, **values: Any) -> None:
        pass  # sync runs are metrics in Kubernetes mode; the database only mirrors objects

    def phase_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        with self._lock:
            for e in self._entries.values():
                if not e.deleting:
                    key = (e.record.kind, e.status.phase)
                    counts[key] = counts.get(key, 0) + 1
        return counts


def _changed(
    record: ObjectRecord,
    customer_id: str,
    generation: int,
    labels: dict[str, str],
    spec: dict[str, Any],
) -> ObjectRecord:
    """The record with the cluster's new version of the object (its ref object, serial and
    status kept: the ref is the state's dictionary key, shared rather than copied)."""
    return ObjectRecord(
        record.ref,
        record.serial,
        intern(customer_id),
        generation,
        labels,
        compact(spec),
        record.status,
    )

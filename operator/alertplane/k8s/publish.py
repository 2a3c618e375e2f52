"""Status, Events and finalizers on the custom resources, written by a few worker threads.

The reconciler and the mirror only say which objects changed; the workers compose each
object's status from what is known at that moment (so a late writer can never overwrite
a newer status with an older one), patch it when it differs from what the cluster shows,
post a Warning Event when an object becomes Invalid or Failed, add the finalizer to new
objects, and remove it once a deleted object's output is gone. The watch handlers only
queue the finalizer here, so a burst of new objects never waits on API calls in kopf.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter

from ..errors import ObjectRef
from ..kube.client import ApiError, KubeClient
from ..kube.kinds import EVENT
from ..kube.paths import kind_path, object_path
from ..metrics import REGISTRY
from ..model import API_VERSION
from ..model.records import format_time
from .mirror import Mirror
from .state import FINALIZER, ClusterState, Entry

log = logging.getLogger("alertplane.publish")

STATUS_PATCHES = Counter(
    "alertplane_status_patches_total",
    "Status patches of custom resources by outcome (unchanged: composed, found already shown).",
    ["outcome"],
    registry=REGISTRY,
)
EVENTS = Counter(
    "alertplane_k8s_events_total",
    "Kubernetes Events posted, by reason.",
    ["reason"],
    registry=REGISTRY,
)

STATUS, FINALIZE, ADD_FINALIZER = "status", "finalize", "add-finalizer"
CONFLICT_RETRY_S = 0.5  # a refused status patch: composed again after the watch caught up


class Publisher:
    def __init__(
        self,
        client: KubeClient,
        state: ClusterState,
        locate: Callable[[str, str], str] = lambda rel, _cid: rel,
        written_message: str | None = None,
        mirror: Mirror | None = None,
        workers: int = 4,
    ) -> None:
        self.client = client
        self.state = state
        self.locate = locate
        self.written_message = written_message
        self.mirror = mirror
        self.workers = workers
        self._cv = threading.Condition()
        self._queued: dict[ObjectRef, set[str]] = {}
        self._busy: set[ObjectRef] = set()
        self._stopping = False
        # Mirror notices that come before the first full sync wait for it: until then an
        # object's status is only what was listed (no renderedTo), and composing it would
        # patch every status of a restarted operator twice.
        self._synced_once = False
        self._held: set[ObjectRef] = set()
        self.instance = os.environ.get("POD_NAME") or os.uname().nodename

    # -- producers ------------------------------------------------------------------------
    def enqueue(self, refs: Iterable[ObjectRef], action: str = STATUS) -> None:
        with self._cv:
            for ref in refs:
                self._queued.setdefault(ref, set()).add(action)
            self._cv.notify_all()

    def enqueue_after_first_sync(self, refs: Iterable[ObjectRef]) -> None:
        with self._cv:
            if not self._synced_once:
                self._held.update(refs)
                return
        self.enqueue(refs)

    def synced(self) -> None:
        """A full or partial sync finished; releases what waited for the first one."""
        with self._cv:
            self._synced_once = True
            held, self._held = self._held, set()
        if held:
            self.enqueue(held)

    def finalize(self, refs: Iterable[ObjectRef]) -> None:
        self.enqueue(refs, FINALIZE)

    def add_finalizer(self, ref: ObjectRef) -> None:
        self.enqueue([ref], ADD_FINALIZER)

    def idle(self) -> bool:
        with self._cv:
            return not self._queued and not self._busy

    # -- workers --------------------------------------------------------------------------
    def start(self, stop: threading.Event) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._work, name=f"publisher-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in threads:
            t.start()

        def stopper() -> None:
            stop.wait()
            with self._cv:
                self._stopping = True
                self._cv.notify_all()

        threading.Thread(target=stopper, daemon=True).start()
        return threads

    def _work(self) -> None:
        while True:
            with self._cv:
                ref = None
                while ref is None:
                    if self._stopping:
                        return
                    ref = next((r for r in self._queued if r not in self._busy), None)
                    if ref is None:
                        self._cv.wait()
                actions = self._queued.pop(ref)
                self._busy.add(ref)
            try:
                self._process(ref, actions)
            except Exception:  # one object's failure must not stop the others
                log.exception("publishing %s failed", ref)
            finally:
                with self._cv:
                    self._busy.discard(ref)
                    self._cv.notify_all()

    def _process(self, ref: ObjectRef, actions: set[str]) -> None:
        entry = self.state.entry(ref)
        if entry is None:
            return
        if entry.deleting:
            if FINALIZE in actions:
                self._remove_finalizer(ref)
            return
        if ADD_FINALIZER in actions:
            meta = self.state.finalizer_meta(ref)
            if meta is not None:
                add_finalizer(self.client, ref, meta)
        status = self.compose(ref, entry)
        if status is not None and entry.shows(status):
            STATUS_PATCHES.labels("unchanged").inc()  # compared, nothing to write
        elif status is not None:
            self._patch_status(ref, entry, status)

    def _patch_status(self, ref: ObjectRef, entry: Entry, status: dict[str, Any]) -> None:
        """Preconditioned on the resourceVersion the status was composed against: a patch
        that arrives late (its sender paused, another replica leading meanwhile) is refused
        rather than laid over a newer status. A refusal (409) is composed again once the
        watch brings the newer version."""
        patch: dict[str, Any] = {"status": status}
        if entry.resource_version:
            patch["metadata"] = {"resourceVersion": entry.resource_version}
        try:
            updated = self.client.merge_patch(object_path(ref, "status"), patch)
        except ApiError as exc:
            STATUS_PATCHES.labels("conflict" if exc.status == 409 else "error").inc()
            if exc.status == 409:
                self._again_later(ref)
            elif exc.status != 404:  # 404: deleted meanwhile
                log.warning("status of %s not written: %s", ref, exc)
            return
        STATUS_PATCHES.labels("ok").inc()
        entry.resource_version = str(updated.get("metadata", {}).get("resourceVersion") or "")
        entry.saw_status(updated.get("status") or status)
        self._maybe_event(ref, entry, status)

    def _again_later(self, ref: ObjectRef) -> None:
        timer = threading.Timer(CONFLICT_RETRY_S, self.enqueue, ([ref],))
        timer.daemon = True
        timer.start()

    # -- composing ------------------------------------------------------------------------
    def compose(self, ref: ObjectRef, entry: Entry) -> dict[str, Any] | None:
        st = entry.status
        if not st.observed_generation:
            return None  # not assessed yet
        cid = entry.record.customer_id
        status = st.to_design(lambda rel: self.locate(rel, cid))
        conditions: list[dict[str, Any]] = status["conditions"]
        for cond in conditions:
            if cond.get("reason") == "Written" and self.written_message:
                cond["message"] = self.written_message
        if self.mirror is not None:
            ok, message = self.mirror.mirrored(ref)
            if ok is None:  # not compared since start: keep showing what the object shows
                shown = entry.shown_mirrored
                ok = shown is not None and shown[0] == "True"
                message = "" if ok else message
            conditions.append(self._mirrored(entry, ok, message))
        # A merge patch removes what is null: a status without a sync shows no stale time.
        status.setdefault("lastSyncTime", None)
        return status

    @staticmethod
    def _mirrored(entry: Entry, ok: bool, message: str) -> dict[str, Any]:
        status = "True" if ok else "False"
        before = entry.shown_mirrored
        since = before[1] if before is not None and before[0] == status else None
        return {
            "type": "Mirrored",
            "status": status,
            "reason": "Mirrored" if ok else "MirrorPending",
            "message": message,
            "lastTransitionTime": since or format_time(),
        }

    # -- events and finalizers ------------------------------------------------------------
    def _maybe_event(self, ref: ObjectRef, entry: Entry, status: dict[str, Any]) -> None:
        phase = status["phase"]
        if phase not in ("Invalid", "Failed"):
            entry.last_event = None
            return
        wanted = "Valid" if phase == "Invalid" else "Synced"
        message = next(
            (c.get("message", "") for c in status["conditions"] if c.get("type") == wanted), ""
        )
        key = (phase, message)
        if entry.last_event == key:
            return
        entry.last_event = key
        reason = "Invalid" if phase == "Invalid" else "SyncFailed"
        now = format_time()
        event = {
            "apiVersion": EVENT.api_version,
            "kind": "Event",
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": entry.uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning",
            "source": {"component": "alertplane"},
            "reportingComponent": "alertplane",
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.client.create(kind_path(EVENT, ref.namespace), event)
            EVENTS.labels(reason).inc()
        except ApiError as exc:
            log.warning("event for %s not posted: %s", ref, exc)

    def _remove_finalizer(self, ref: ObjectRef) -> None:
        remove_finalizer(self.client, ref)


def add_finalizer(client: KubeClient, ref: ObjectRef, meta: dict[str, Any]) -> None:
    """Ours, so a deleted object stays until its output is removed; a conflict means a newer
    version exists, whose event brings us back here."""
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER in finalizers or meta.get("deletionTimestamp"):
        return
    patch = {
        "metadata": {
            "finalizers": [*finalizers, FINALIZER],
            "resourceVersion": meta.get("resourceVersion"),
        }
    }
    try:
        client.merge_patch(object_path(ref), patch)
    except ApiError as exc:
        if exc.status not in (404, 409):
            log.warning("finalizer of %s not added: %s", ref, exc)


def remove_finalizer(client: KubeClient, ref: ObjectRef) -> None:
    for _ in range(5):
        body = client.get(object_path(ref))
        if body is None:
            return
        meta = body.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        patch = {
            "metadata": {
                "finalizers": [f for f in finalizers if f != FINALIZER],
                "resourceVersion": meta.get("resourceVersion"),
            }
        }
        try:
            client.merge_patch(object_path(ref), patch)
            return
        except ApiError as exc:
            if exc.status == 404:
                return
            if exc.status != 409:
                log.warning("finalizer of %s not removed: %s", ref, exc)
                return

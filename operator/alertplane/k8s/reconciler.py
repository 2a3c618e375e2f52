"""The core reconciler, fed from the cluster: adds the checks only Kubernetes mode has.

Validation and rendering stay the core's (sync.Reconciler); through its public hooks
(sync.SyncHooks), this adds tenant binding and the sink's own checks of receivers (for the
prometheus-operator sink, that referenced Secret keys exist), tells the operator
after each successful sync which deleted objects' output is now gone, and resyncs
periodically: generated objects someone edited or deleted, and Secrets rotated since
they were copied, are not watched, so every `resync_s` the sink re-reads what is there
and a full sync re-applies the desired output where it differs (only there: unchanged
objects are compared, not rewritten).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter

from ..errors import AlertplaneError, ObjectRef, Problem
from ..kube.binding import binding_problem
from ..metrics import REGISTRY
from ..model import CustomerReceiver, Resource
from ..model.records import ObjectRecord
from ..sync import Reconciler, SyncHooks, SyncReport, SyncSettings
from ..sync_assess import live_version
from ..sync_chunk import Check, Checked
from .state import ClusterState

log = logging.getLogger("alertplane.resync")

SECRET_RECHECK_S = 30.0  # Secrets are not watched: re-check missing ones this often
RESYNCS = Counter(
    "alertplane_resyncs_total", "Periodic resyncs by outcome.", ["outcome"], registry=REGISTRY
)
RESYNC_REPAIRS = Counter(
    "alertplane_resync_repairs_total",
    "Outputs (rule files, Alertmanager config) a periodic resync found changed and rewrote.",
    registry=REGISTRY,
)


class ClusterHooks:
    """What the cluster adds to the core reconciler, as its hooks: admission with the
    tenant binding and the sink's receiver checks, Secrets resolved in the receiver's
    namespace, finalizing deleted objects after a sync, the periodic resync."""

    def __init__(
        self,
        state: ClusterState,
        tenant_binding: bool = True,
        check_secrets: Callable[[CustomerReceiver], list[Problem]] | None = None,
        resync_s: float = 0.0,
        refresh: Callable[[], None] | None = None,
    ) -> None:
        """`resync_s` 0 turns the periodic resync off; `refresh` makes the sink re-read the
        generated objects that exist (the files sink compares with the files themselves)."""
        self.state = state
        self.tenant_binding = tenant_binding
        self.check_secrets = check_secrets
        # (report, deleted objects whose output this sync removed)
        self.on_synced: list[Callable[[SyncReport, list[ObjectRef]], None]] = []
        self._deleting: list[ObjectRef] = []
        self._secret_wait: set[str] = set()
        self._secret_check_at = 0.0
        self.resync_s = resync_s
        self.refresh = refresh
        self.on_resync: list[Callable[[], None]] = []
        self._resync_at = time.monotonic() + resync_s
        self.reconciler: Reconciler | None = None
        # Objects of the chunk being synced in a namespace not bound to their customer.
        self._unbound: set[ObjectRef] = set()

    def attach(self, settings: SyncSettings) -> Reconciler:
        """The core reconciler over the cluster's state, with these hooks."""
        hooks = SyncHooks(
            admission=self.admit,
            live_version=self.live_version,
            secret_folder=self.secret_folder,
            before_sync=[self._before_sync],
            on_synced=[self._synced],
            after_step=[self.after_step],
        )
        self.reconciler = Reconciler(self.state, settings, hooks)
        return self.reconciler

    def _before_sync(self, targets: set[str] | None) -> None:
        self._deleting = self.state.deleting(targets)

    def _synced(self, report: SyncReport) -> None:
        removed = self._deleting if report.outcome in ("ok", "invalid") else []
        self._deleting = []
        for listener in self.on_synced:
            listener(report, removed)

    @staticmethod
    def secret_folder(obj: CustomerReceiver) -> str:
        """In the cluster, Secrets live in namespaces, and the tenant binding decides whose
        a namespace is: references resolve in the receiver's namespace."""
        return obj.metadata.namespace

    def live_version(self, record: ObjectRecord) -> Resource | None:
        """An object in a namespace not bound to its customer keeps nothing live (its
        remembered last valid version stays in the state for when it is bound again)."""
        return None if record.ref in self._unbound else live_version(record)

    def admit(self, stored: list[ObjectRecord], core: Check) -> Checked:
        violations: dict[ObjectRef, Problem] = {}
        for st in stored:
            ns, cid = st.namespace, st.customer_id
            if self.tenant_binding and cid:
                violation = binding_problem(ns, cid, self.state.bindings.get(ns), st.spec)
                if violation is not None:
                    violations[st.ref] = violation
        self._unbound = set(violations)
        # An object in a namespace not bound to its customer is not the customer's: it is
        # validated on its own, so it takes none of the customer's names (otherwise anyone
        # who may write in some namespace could make the customer's own objects duplicates).
        problems, parsed = core([s for s in stored if s.ref not in violations])
        for st in stored:
            if st.ref in violations:
                alone, alone_parsed = core([st])
                problems.update(alone)
                parsed.update(alone_parsed)
        for st in stored:
            found = self._found(st, violations.get(st.ref), parsed, problems)
            if found:
                problems.setdefault(st.ref, []).extend(p.at(st.ref) for p in found)
        return problems, parsed

    def _found(
        self,
        st: ObjectRecord,
        violation: Problem | None,
        parsed: dict[ObjectRef, Resource],
        problems: dict[ObjectRef, list[Problem]],
    ) -> list[Problem]:
        """The cluster's own findings on one object: its binding violation, or what the
        sink finds wrong with a valid receiver."""
        found: list[Problem] = []
        if violation is not None:
            found.append(violation)
        obj = parsed.get(st.ref)
        # Secrets are read only for a receiver its namespace may hold: one in a namespace
        # bound to another customer never gets to probe (or copy) that namespace's Secrets.
        if (
            violation is None
            and self.check_secrets
            and isinstance(obj, CustomerReceiver)
            and st.ref not in problems
        ):
            missing = self.check_secrets(obj)
            if missing:
                if not self._secret_wait:
                    self._secret_check_at = time.monotonic() + SECRET_RECHECK_S
                self._secret_wait.add(st.customer_id)
            found += missing
        return found

    def after_step(self) -> None:
        if self._secret_wait and time.monotonic() >= self._secret_check_at:
            waiting, self._secret_wait = self._secret_wait, set()
            self.state.touch(waiting)
        if self.resync_s > 0 and time.monotonic() >= self._resync_at:
            self.resync()
            self._resync_at = time.monotonic() + self.resync_s

    def resync(self) -> SyncReport | None:
        """Re-apply the desired output wherever what exists differs from it."""
        assert self.reconciler is not None, "attach() first"
        try:
            if self.refresh is not None:
                self.refresh()
        except AlertplaneError as exc:
            RESYNCS.labels("error").inc()
            log.warning("resync skipped: %s", exc)
            return None
        report = self.reconciler.sync(None)
        RESYNCS.labels("ok" if report.outcome in ("ok", "invalid") else "error").inc()
        RESYNC_REPAIRS.inc(len(report.written))
        if report.written:
            log.warning(
                "resync: output differed from the desired state, rewrote %s", report.written
            )
        for listener in self.on_resync:  # e.g. statuses someone edited, patches that failed
            listener()
        return report


def cluster_reconciler(
    state: ClusterState,
    settings: SyncSettings,
    tenant_binding: bool = True,
    check_secrets: Callable[[CustomerReceiver], list[Problem]] | None = None,
    resync_s: float = 0.0,
    refresh: Callable[[], None] | None = None,
) -> Reconciler:
    """The core reconciler with the cluster's hooks (`ClusterHooks`)."""
    hooks = ClusterHooks(state, tenant_binding, check_secrets, resync_s, refresh)
    return hooks.attach(settings)

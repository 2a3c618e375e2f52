"""The core reconciler, fed from the cluster: adds the checks only Kubernetes mode has.

Validation and rendering stay the core's (sync.Reconciler); this adds tenant binding and,
for the prometheus-operator sink, that referenced Secret keys exist, and tells the
operator after each successful sync which deleted objects' output is now gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from ..errors import ObjectRef, Problem
from ..model import CustomerReceiver, Resource
from ..store.repo import Stored
from ..sync import Reconciler, SyncReport, SyncSettings
from .binding import binding_problem
from .state import ClusterState

SECRET_RECHECK_S = 30.0  # Secrets are not watched: re-check missing ones this often


class ClusterReconciler(Reconciler):
    def __init__(
        self,
        state: ClusterState,
        settings: SyncSettings,
        tenant_binding: bool = True,
        check_secrets: Callable[[CustomerReceiver], list[Problem]] | None = None,
    ) -> None:
        super().__init__(state, settings)
        self.state = state
        self.tenant_binding = tenant_binding
        self.check_secrets = check_secrets
        # (report, deleted objects whose output this sync removed)
        self.on_synced: list[Callable[[SyncReport, list[ObjectRef]], None]] = []
        self._secret_wait: set[str] = set()
        self._secret_check_at = 0.0

    def sync(self, customers: Iterable[str] | None) -> SyncReport:
        targets = None if customers is None else set(customers)
        deleting = self.state.deleting(targets)
        report = super().sync(targets)
        removed = deleting if report.outcome in ("ok", "invalid") else []
        for listener in self.on_synced:
            listener(report, removed)
        return report

    def _validate(
        self, stored: list[Stored]
    ) -> tuple[dict[ObjectRef, list[Problem]], dict[int, Resource]]:
        problems, parsed = super()._validate(stored)
        for st in stored:
            found: list[Problem] = []
            ns, cid = st.row.namespace, st.row.customer_id
            if self.tenant_binding and cid:
                violation = binding_problem(ns, cid, self.state.bindings.get(ns))
                if violation is not None:
                    found.append(violation)
                    if st.status is not None:  # a copy: no last valid version may stay live
                        st.status.live_spec = None
                        st.status.live_generation = None
            obj = parsed.get(st.row.id)
            if self.check_secrets and isinstance(obj, CustomerReceiver) and st.ref not in problems:
                missing = self.check_secrets(obj)
                if missing:
                    if not self._secret_wait:
                        self._secret_check_at = time.monotonic() + SECRET_RECHECK_S
                    self._secret_wait.add(cid)
                found += missing
            if found:
                problems.setdefault(st.ref, []).extend(p.at(st.ref) for p in found)
        return problems, parsed

    def _step(self, stop: threading.Event) -> None:
        super()._step(stop)
        if self._secret_wait and time.monotonic() >= self._secret_check_at:
            waiting, self._secret_wait = self._secret_wait, set()
            self.state.touch(waiting)

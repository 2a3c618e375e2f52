"""The reconciler: dirty customers → validate → render → check + atomic write → reload → status.

Level-triggered: a sync derives a customer's output from everything stored for it, never
from the change that woke it, so a restart or a missed change heals on the next pass.
Incremental: only dirty customers are validated and re-rendered; the Alertmanager config
is assembled from every customer's live receivers, and unchanged files are not rewritten.
An object whose newest spec is invalid keeps its last valid spec live and blocks nobody.

A pass runs in phases: load, validate and render per chunk of customers (sync_chunk.py);
assemble the output (sync_output.py); write it and make it live through the sink
(sinks/base.py: the reconciler never asks which sink it has); statuses (sync_status.py).
Doors add to it through `SyncHooks` (the operator: k8s/reconciler.py), never by subclassing.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import AlertplaneError, ObjectRef
from .health import DB_DOWN, failure_kind, log_failure
from .metrics import (
    LAST_SUCCESS,
    OBJECTS,
    QUEUE_DEPTH,
    RELOADS,
    RULES,
    SYNC_DURATION,
    SYNC_FAILING_SINCE,
    SYNCS,
)
from .model import CustomerReceiver, Resource
from .model.records import Concluded, ObjectRecord, utcnow
from .render.platform import PlatformConfig
from .render.secretfiles import secret_folder
from .sinks.base import ALERTMANAGER, PROMETHEUS, Receivers, ReloadOutcome, Sink, fails_pass
from .sinks.factory import SinkSettings, build_sink
from .sinks.sharded_moves import MoveTracker
from .sync_assess import live_version, readmitted
from .sync_chunk import Check, Checked, LiveState, admit_stored, run_chunk
from .sync_output import Pass, settle_alertmanager, untested
from .sync_status import status_updates

__all__ = ["Receivers", "Reconciler", "SyncHooks", "SyncReport", "SyncSettings"]

log = logging.getLogger("alertplane.sync")

CHUNK = 50  # customers per validation/render batch
RECHECK_FIRST_S, RECHECK_MAX_S = 0.5, 10.0  # asking again about output still on its way


class ObjectSource(Protocol):
    """What the reconciler reads and writes: the Store (standalone), or the cluster's
    in-memory state (k8s/state.py) when custom resources are the truth."""

    def get(
        self,
        kind: str | None = None,
        customer: str | None = None,
        customers: Iterable[str] | None = None,
    ) -> list[ObjectRecord]: ...
    def customers(self) -> list[str]: ...
    def change_marker(self) -> int: ...
    def changed_since(self, marker: int) -> tuple[set[str], int]: ...
    def save_statuses(self, updates: Mapping[ObjectRef, Concluded]) -> None: ...
    def record_sync(self, **values: Any) -> None: ...
    def phase_counts(self) -> dict[tuple[str, str], int]: ...


@dataclass
class SyncSettings:
    out_dir: Path
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    coalesce_s: float = 0.2
    poll_s: float = 0.05
    retry_max_s: float = 30.0
    sink: Sink | None = None  # None: a files sink in out_dir, reloading at the URLs above

    def files_sink(self) -> Sink:
        """The files sink in `out_dir`, reloading at these settings' URLs as they are at
        each pass (tests and the API's /firing set them on a running reconciler)."""
        given = SinkSettings(
            out_dir=self.out_dir, platform=self.platform, prometheus_url=self.prometheus_url
        )
        given.check()  # --prometheus-url and prometheus.shards exclude each other
        return build_sink(
            given,
            urls=lambda: {PROMETHEUS: self.prometheus_url, ALERTMANAGER: self.alertmanager_url},
        )


@dataclass
class SyncReport:
    customers: list[str]
    outcome: str  # ok invalid write_failed reload_failed
    written: list[str] = field(default_factory=list)
    reloads: dict[str, ReloadOutcome] = field(default_factory=dict)
    invalid: int = 0
    duration_s: float = 0.0


AdmissionHook = Callable[[list[ObjectRecord], Check], Checked]


def _own_folder(obj: CustomerReceiver) -> str:
    """Standalone, the database is the truth and a namespace is only a name that several
    customers' objects may share (`apply` without a namespace, imports, moves): the
    folder is the customer's own, where the store also writes its clear secrets
    (store/secrets.py), so no customer can read or overwrite another's."""
    return secret_folder(obj.spec.customer_id)


@dataclass
class SyncHooks:
    """Where a door adds to the reconciler without subclassing it (k8s/reconciler.py)."""

    # Wraps the core's admission of a chunk's objects (which it may call on any subset):
    # the cluster adds the tenant binding and the sink's checks of receivers.
    admission: AdmissionHook | None = None
    # The folder under `secretsDir` a receiver's secret references resolve in.
    secret_folder: Callable[[CustomerReceiver], str] = _own_folder
    # What of an object whose newest spec is invalid stays live (sync_assess.live_version).
    live_version: Callable[[ObjectRecord], Resource | None] = live_version
    before_sync: list[Callable[[set[str] | None], None]] = field(default_factory=list)
    on_synced: list[Callable[[SyncReport], None]] = field(default_factory=list)
    after_step: list[Callable[[], None]] = field(default_factory=list)
    # Where an output is, for status.renderedTo (standalone: `Sink.location`, e.g. a
    # shard's directory); None keeps the output's name (the operator locates at publish).
    locate: Callable[[str, str], str] | None = None


class Reconciler:
    def __init__(
        self, store: ObjectSource, settings: SyncSettings, hooks: SyncHooks | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.sink: Sink = settings.sink if settings.sink is not None else settings.files_sink()
        # Standalone (no hooks): renderedTo says where the sink put each output (a shard's
        # directory); the operator's publisher does that itself.
        self.hooks = hooks or SyncHooks(locate=self.sink.location)
        _audit_moves(self.sink, store)
        self.live = LiveState()
        self.marker = 0
        self.ready = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._retry: set[str] = set()
        self._retry_at = 0.0
        self._retry_delay = 0.5
        self._recheck_delay = RECHECK_FIRST_S
        self._first = True
        # Since when (Unix time) every sync has failed, and why in a few words (no paths,
        # no customer: /readyz shows it to anyone); None while the last one succeeded.
        self.failing_since: float | None = None
        self.failure = ""

    def failed(self, why: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            SYNC_FAILING_SINCE.set(self.failing_since)
        self.failure = why

    def succeeded(self) -> None:
        self.failing_since, self.failure = None, ""
        SYNC_FAILING_SINCE.set(0)

    def notify(self) -> None:
        """A change was written in this process: skip the rest of the poll interval."""
        self._wake.set()

    # -- one pass ---------------------------------------------------------------------
    def sync_all(self) -> SyncReport:
        self.marker = self.store.change_marker()  # before reading: no change can slip by
        return self.sync(None)

    def sync(self, customers: Iterable[str] | None) -> SyncReport:
        targets = None if customers is None else set(customers)
        for before in self.hooks.before_sync:
            before(targets)
        with self._lock, SYNC_DURATION.time():
            start = time.monotonic()
            try:
                report = self._sync(targets)
            except Exception:
                SYNCS.labels("error").inc()  # self-monitoring sees a pass that broke off
                with contextlib.suppress(Exception):  # and what is stuck (best effort)
                    self._refresh_gauges()
                raise
            report.duration_s = time.monotonic() - start
        SYNCS.labels(report.outcome).inc()
        if report.outcome == "ok":
            LAST_SUCCESS.set_to_current_time()
        if report.outcome == "write_failed":
            self.failed("writing the output failed")
        elif report.outcome == "reload_failed":
            failed = sorted(t for t, r in report.reloads.items() if fails_pass(t, r))
            self.failed(f"reload of {' and '.join(failed)} failed")
        else:  # ok, or invalid objects: those are their owners' problem, not the process's
            self.succeeded()
        self.store.record_sync(
            duration_s=report.duration_s,
            customers=report.customers,
            outcome=report.outcome,
            files_written=len(report.written),
            reloads=len(report.reloads),
            message="; ".join(r.message for r in report.reloads.values() if not r.ok),
        )
        self._refresh_gauges()
        for listener in self.hooks.on_synced:
            listener(report)
        return report

    def _sync(self, customers: set[str] | None) -> SyncReport:
        if customers is None:
            targets = set(self.store.customers()) | set(self.live.receivers)
            targets |= set(self.live.rule_counts)
        else:
            targets = set(customers)
        ordered = sorted(targets)
        out = Pass()
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            stored = self.store.get(customers=chunk)
            run_chunk(
                chunk,
                stored,
                self._check,
                lambda st: readmitted(self.hooks.live_version(st), self.settings.platform),
                self.hooks.secret_folder,
                out,
                self.live,
            )
        if self._first:  # on start, also drop output of customers that no longer exist
            for rel in self.sink.generated_outputs():
                out.files.setdefault(rel, None)
        self._retry |= settle_alertmanager(out, self.live.receivers, self.settings.platform)
        invalid = sum(1 for a in out.assessed if a.problems is not None)
        report = SyncReport(ordered, "ok", invalid=invalid)
        write_error = self._write(out.files, report)
        report.reloads = self._make_live(report.written)
        updates, pending = status_updates(
            out.assessed, self.sink, write_error, utcnow(), self.hooks.locate
        )
        self.store.save_statuses(updates)
        self._schedule_recheck(pending)
        # A reload still running, or a replica down while the others serve, is Pending
        # (re-checked), not failed (sinks/base.py fails_pass).
        failed = [t for t, r in report.reloads.items() if fails_pass(t, r)]
        if write_error:
            report.outcome = "write_failed"
        elif failed:
            report.outcome = "reload_failed"
        elif invalid:
            report.outcome = "invalid"
        if not (write_error or failed):
            self._retry_delay = 0.5
        if retry := targets if write_error or failed else untested(out.assessed):
            self._schedule_retry(retry)
        return report

    def _check(self, stored: list[ObjectRecord]) -> Checked:
        def core(objects: list[ObjectRecord]) -> Checked:
            return admit_stored(objects, self.settings.platform)

        admission = self.hooks.admission
        return core(stored) if admission is None else admission(stored, core)

    def _write(self, files: dict[str, str | None], report: SyncReport) -> str:
        """Hand the changed output to the sink; what went wrong, or ""."""
        try:
            report.written = self.sink.write(files, self.live.receivers)
            self._first = False
        except (AlertplaneError, OSError) as exc:
            log.error("write failed: %s", exc)
            return str(exc)
        return ""

    def _make_live(self, written: list[str]) -> dict[str, ReloadOutcome]:
        outcomes = self.sink.make_live(written)
        for target, outcome in sorted(outcomes.items()):
            if outcome.in_flight:
                log.info("%s", outcome.message)
                continue
            RELOADS.labels(target, "ok" if outcome.ok else "error").inc()
            if not outcome.ok:
                log.warning("reload of %s failed: %s", target, outcome.message)
        return outcomes

    def _schedule_retry(self, customers: set[str]) -> None:
        self._retry |= customers
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.settings.retry_max_s)

    def _schedule_recheck(self, customers: set[str]) -> None:
        """Output the sink says is on its way (Pending: prometheus-operator has not
        reconciled it yet, a ConfigMap not yet refreshed in the pod) is asked about again,
        soon and then less often, until the running system has it. Not a failure: the
        process stays ready and nothing is rewritten (the output is unchanged)."""
        if not customers:
            self._recheck_delay = RECHECK_FIRST_S
            return
        due = time.monotonic() + self._recheck_delay
        if not self._retry or self._retry_at > due:  # never later than a retry already due
            self._retry_at = due
        self._retry |= customers
        self._recheck_delay = min(self._recheck_delay * 2, RECHECK_MAX_S)

    def _refresh_gauges(self) -> None:
        OBJECTS.clear()
        for (kind, phase), count in self.store.phase_counts().items():
            OBJECTS.labels(kind, phase).set(count)
        RULES.set(sum(self.live.rule_counts.values()))

    # -- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sync_all()
                break
            except Exception as exc:
                self.failed(failure_kind(exc))
                log_failure(log, "initial sync failed; retrying in 2s", exc)
                stop.wait(2.0)
        release_memory()
        self.ready.set()
        while not stop.is_set():
            try:
                self._step(stop)
            except Exception as exc:  # a bad pass must never stop reconciliation
                self.failed(failure_kind(exc))
                log_failure(log, "sync failed; will retry", exc)
                self._schedule_retry(set(self.live.receivers) | set(self.live.rule_counts))
                stop.wait(1.0)

    def _step(self, stop: threading.Event) -> None:
        self._sync_changes(stop)
        for after in self.hooks.after_step:
            after()

    def _sync_changes(self, stop: threading.Event) -> None:
        """Wait for changes (or a retry that is due), coalesce them, sync them."""
        self._wake.wait(self.settings.poll_s)
        self._wake.clear()
        touched, self.marker = self.store.changed_since(self.marker)
        if self.failure == DB_DOWN:  # it answered: a retry, if one is due, says the rest
            self.succeeded()
        retry_due = bool(self._retry) and time.monotonic() >= self._retry_at
        if not touched and not retry_due:
            return
        deadline = time.monotonic() + self.settings.coalesce_s
        while (left := deadline - time.monotonic()) > 0 and not stop.is_set():
            self._wake.wait(min(left, self.settings.poll_s))
            self._wake.clear()
            more, self.marker = self.store.changed_since(self.marker)
            touched |= more
        if retry_due:
            touched |= self._retry
            self._retry = set()
        QUEUE_DEPTH.set(len(touched))
        report = self.sync(touched)
        QUEUE_DEPTH.set(0)
        log.info(
            "synced %d customer(s) in %.3fs: %s, wrote %s",
            len(report.customers),
            report.duration_s,
            report.outcome,
            report.written or "nothing",
        )


def _audit_moves(sink: Sink, store: ObjectSource) -> None:
    """A sharded sink's finished moves go to the store's audit, where it keeps one (the
    standalone database: `Store.record_move`; the operator's cluster state has none: its
    database mirror audits them, k8s/leading.py)."""
    moves = getattr(sink, "moves", None)
    record = getattr(store, "record_move", None)
    if isinstance(moves, MoveTracker) and callable(record):
        moves.on_moved.append(lambda m: record(m.customer_id, m.source, m.target))


def release_memory() -> None:
    """Hand the initial sync's garbage back to the OS.

    The first sync parses every object at once; without this, the allocator keeps that
    peak as resident memory for the life of the process.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)

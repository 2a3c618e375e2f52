"""The reconciler: dirty customers → validate → render → check + atomic write → reload → status.

Level-triggered: a sync derives a customer's output from everything stored for it, never
from the change that woke it, so a restart or a missed change heals on the next pass.
Incremental: only dirty customers are validated and re-rendered; the Alertmanager config
is assembled from every customer's live receivers, and unchanged files are not rewritten.
An object whose newest spec is invalid keeps its last valid spec live and blocks nobody.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .errors import AlertplaneError, ObjectRef, Problem, Source
from .health import DB_DOWN, failure_kind, log_failure
from .manifests import Document
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
from .model import CustomerAlert, CustomerReceiver, CustomerReceiverSpec, Resource
from .model.records import Concluded, ObjectRecord, utcnow
from .render import ALERTMANAGER_PATH
from .render.platform import PlatformConfig
from .render.rules import rules_path
from .render.secretfiles import secret_folder
from .sinks.files import generated_rule_files, write_files
from .sinks.reload import ReloadOutcome, reload
from .status import Verdict, concluded
from .sync_assess import Assessment, assess, live_version
from .sync_output import accepted_alertmanager, contained_admission, refused_rules

log = logging.getLogger("alertplane.sync")

PROMETHEUS, ALERTMANAGER = "prometheus", "alertmanager"
CHUNK = 50  # customers per validation/render batch
STORED = "stored"  # the source name of stored objects in admission


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


Receivers = Mapping[str, list[tuple[str, CustomerReceiverSpec]]]


class OutputSink(Protocol):
    """Where rendered files go instead of `out_dir` (ConfigMaps, prometheus-operator objects).

    `write` gets the changed files (None deletes) and every live customer's receivers, and
    returns the relative paths whose output changed; `generated_rule_files` lists the rule
    outputs that exist, so the first sync can drop those of vanished customers."""

    def write(self, files: Mapping[str, str | None], receivers: Receivers) -> list[str]: ...
    def generated_rule_files(self) -> list[str]: ...


@dataclass
class SyncSettings:
    out_dir: Path
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    coalesce_s: float = 0.2
    poll_s: float = 0.05
    retry_max_s: float = 30.0
    sink: OutputSink | None = None  # None: files in out_dir


@dataclass
class SyncReport:
    customers: list[str]
    outcome: str  # ok invalid write_failed reload_failed
    written: list[str] = field(default_factory=list)
    reloads: dict[str, ReloadOutcome] = field(default_factory=dict)
    invalid: int = 0
    duration_s: float = 0.0


class Reconciler:
    def __init__(self, store: ObjectSource, settings: SyncSettings) -> None:
        self.store = store
        self.settings = settings
        # What is live per customer: receivers (to assemble alertmanager.yml without
        # reloading every customer) and the number of enabled rules (for the gauge).
        self.receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
        self.rule_counts: dict[str, int] = {}
        self.pending_reload: set[str] = set()
        self.marker = 0
        self.ready = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._retry: set[str] = set()
        self._retry_at = 0.0
        self._retry_delay = 0.5
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
        with self._lock, SYNC_DURATION.time():
            start = time.monotonic()
            try:
                report = self._sync(None if customers is None else set(customers))
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
            failed = sorted(t for t, r in report.reloads.items() if not r.ok)
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
        return report

    def _sync(self, customers: set[str] | None) -> SyncReport:
        if customers is None:
            targets = set(self.store.customers()) | set(self.receivers) | set(self.rule_counts)
        else:
            targets = set(customers)
        files: dict[str, str | None] = {}
        assessed: list[Assessment] = []
        ordered = sorted(targets)
        # Customers are independent, so load, validate and render them in chunks: the
        # peak memory of a full sync stays that of one chunk, not of every object at once.
        receiver_owner: dict[tuple[str, str], int] = {}  # → its index in `assessed`
        for i in range(0, len(ordered), CHUNK):
            chunk = ordered[i : i + CHUNK]
            stored = sorted(self.store.get(customers=chunk), key=lambda s: s.serial)
            problems, parsed = self._validate(stored)
            live: dict[str, list[tuple[ObjectRecord, Resource]]] = {cid: [] for cid in chunk}
            for item in stored:
                valid = item.ref not in problems
                obj = parsed.get(item.ref) if valid else self.live_version(item)
                if obj is not None:
                    live.setdefault(obj.spec.customer_id, []).append((item, obj))
            # The rule files as they will be written: an alert promtool refuses in them
            # leaves them (with its last valid version), and nobody else does.
            refused, rule_texts = refused_rules(live)
            rendered: dict[ObjectRef, Resource] = {}
            for cid in live:
                live[cid] = [(st, o) for st, o in live[cid] if st.ref not in refused]
                rendered.update((st.ref, o) for st, o in live[cid])
            for item in stored:
                found = problems.get(item.ref)
                if item.ref in refused:
                    found = [*(found or []), *(p.at(item.ref) for p in refused[item.ref])]
                obj = rendered.get(item.ref)
                if isinstance(obj, CustomerReceiver):
                    receiver_owner[(obj.spec.customer_id, obj.spec.receiver_name)] = len(assessed)
                assessed.append(assess(item, found, obj))
            for cid in chunk:
                objs = [o for _, o in live[cid]]
                alerts = [o.spec for o in objs if isinstance(o, CustomerAlert)]
                files[rules_path(cid)] = rule_texts.get(cid)
                self.rule_counts[cid] = sum(1 for a in alerts if a.enabled)
                self.receivers[cid] = [
                    (self.secret_folder(o), o.spec) for o in objs if isinstance(o, CustomerReceiver)
                ]
                if not objs:
                    self.rule_counts.pop(cid)
                    self.receivers.pop(cid)
        sink = self.settings.sink
        if self._first:  # on start, also drop files of customers that no longer exist
            existing = (
                sink.generated_rule_files()
                if sink is not None
                else generated_rule_files(self.settings.out_dir)
            )
            for rel in existing:
                files.setdefault(rel, None)
        text, refused_receivers = accepted_alertmanager(self.receivers, self.settings.platform)
        files[ALERTMANAGER_PATH] = text
        for (cid, name), found in refused_receivers.items():
            index = receiver_owner.get((cid, name))
            if index is None:  # a customer not in this pass: its own sync will say why
                self._retry.add(cid)
                continue
            a = assessed[index]
            text_of = "; ".join(p.text() for p in found)
            problems_text = text_of if a.problems is None else f"{a.problems}; {text_of}"
            assessed[index] = replace(
                a, problems=problems_text, spec=None, live_generation=None, rendered_to=()
            )

        invalid = sum(1 for a in assessed if a.problems is not None)
        report = SyncReport(ordered, "ok", invalid=invalid)
        write_error = ""
        try:
            if sink is not None:
                report.written = sink.write(files, self.receivers)
            else:
                report.written = write_files(self.settings.out_dir, files).changed
            self._first = False
        except (AlertplaneError, OSError) as exc:
            write_error = str(exc)
            log.error("write failed: %s", exc)
        if any(rel.startswith("rules/") for rel in report.written):
            self.pending_reload.add(PROMETHEUS)
        if ALERTMANAGER_PATH in report.written:
            self.pending_reload.add(ALERTMANAGER)
        report.reloads = self._reload()
        self._save_statuses(assessed, report, write_error)
        failed = [t for t, r in report.reloads.items() if not r.ok]
        if write_error:
            report.outcome = "write_failed"
        elif failed:
            report.outcome = "reload_failed"
        elif invalid:
            report.outcome = "invalid"
        if write_error or failed:
            self._schedule_retry(targets)
        else:
            self._retry_delay = 0.5
        return report

    def secret_folder(self, obj: CustomerReceiver) -> str:
        """The folder under `secretsDir` the receiver's secret references resolve in.
        Standalone, the database is the truth and a namespace is only a name that several
        customers' objects may share (`apply` without a namespace, imports, moves): the
        folder is the customer's own, where the store also writes its clear secrets
        (store/secrets.py), so no customer can read or overwrite another's."""
        return secret_folder(obj.spec.customer_id)

    def live_version(self, record: ObjectRecord) -> Resource | None:
        """What of an object whose newest spec is invalid stays live (sync_assess)."""
        return live_version(record)

    def _validate(
        self, stored: list[ObjectRecord]
    ) -> tuple[dict[ObjectRef, list[Problem]], dict[ObjectRef, Resource]]:
        """The one admission function (core.admit) with the RECONCILE policy: everything
        it finds, the tools' findings included, marks the object Invalid."""
        docs = [
            Document(Source(STORED, n), st.manifest(with_status=False, redacted=False))
            for n, st in enumerate(stored, 1)
        ]
        admission = contained_admission(docs, self.settings.platform)
        problems: dict[ObjectRef, list[Problem]] = {}
        for problem in admission.problems:
            n = problem.source.document if problem.source is not None else 0
            if 0 < n <= len(stored):
                problems.setdefault(stored[n - 1].ref, []).append(problem.at(stored[n - 1].ref))
            elif problem.obj is not None:
                problems.setdefault(problem.obj, []).append(problem)
        parsed = {stored[p.source.document - 1].ref: p.obj for p in admission.parsed if p.source}
        return problems, parsed

    def _reload(self) -> dict[str, ReloadOutcome]:
        outcomes: dict[str, ReloadOutcome] = {}
        urls = {
            PROMETHEUS: self.settings.prometheus_url,
            ALERTMANAGER: self.settings.alertmanager_url,
        }
        for target in sorted(self.pending_reload):
            url = urls[target]
            if url is None:
                self.pending_reload.discard(target)
                continue
            outcome = reload(url)
            RELOADS.labels(target, "ok" if outcome.ok else "error").inc()
            outcomes[target] = outcome
            if outcome.ok:
                self.pending_reload.discard(target)
            else:
                log.warning("reload of %s failed: %s", target, outcome.message)
        return outcomes

    def _save_statuses(
        self, assessed: list[Assessment], report: SyncReport, write_error: str
    ) -> None:
        now = utcnow()
        updates: dict[ObjectRef, Concluded] = {}
        for a in assessed:
            target = PROMETHEUS if a.kind == "CustomerAlert" else ALERTMANAGER
            verdict = self._verdict(a, target, report.reloads.get(target), write_error)
            live = (a.generation, a.spec) if a.problems is None and a.spec is not None else None
            status = concluded(verdict, a.conditions, a.last_sync_time, now, live)
            updates[a.ref] = Concluded(a.serial, status)
        self.store.save_statuses(updates)

    def _verdict(
        self, a: Assessment, target: str, outcome: ReloadOutcome | None, write_error: str
    ) -> Verdict:
        url = (
            self.settings.prometheus_url if target == PROMETHEUS else self.settings.alertmanager_url
        )
        if write_error:
            synced, reason, message = False, "WriteFailed", write_error
        elif outcome is not None and not outcome.ok:
            synced, reason, message = False, "ReloadFailed", outcome.message
        elif target in self.pending_reload:
            synced, reason, message = False, "Pending", "waiting for a successful reload"
        elif url is None:
            synced, reason, message = True, "Written", "written; no reload URL configured"
        else:
            synced, reason, message = True, "Reloaded", ""
        gen = a.generation
        if a.problems is None:
            return Verdict(gen, True, "", gen, synced, reason, message, a.disabled, a.rendered_to)
        if a.disabled:  # whatever else the spec says, nothing of the alert is rendered
            if synced:
                reason, message = "Disabled", f"nothing rendered; generation {gen} is invalid"
            return Verdict(gen, False, a.problems, None, synced, reason, message, True)
        if a.live_generation is not None:
            return Verdict(
                gen,
                False,
                a.problems,
                a.live_generation,
                False,
                "Superseded",
                f"generation {a.live_generation} stays live; generation {gen} is invalid",
                rendered_to=a.rendered_to,
            )
        return Verdict(
            gen, False, a.problems, None, False, "Pending", "not rendered: the spec is invalid"
        )

    def _schedule_retry(self, customers: set[str]) -> None:
        self._retry |= customers
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.settings.retry_max_s)

    def _refresh_gauges(self) -> None:
        OBJECTS.clear()
        for (kind, phase), count in self.store.phase_counts().items():
            OBJECTS.labels(kind, phase).set(count)
        RULES.set(sum(self.rule_counts.values()))

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
                self._schedule_retry(set(self.receivers) | set(self.rule_counts))
                stop.wait(1.0)

    def _step(self, stop: threading.Event) -> None:
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


def release_memory() -> None:
    """Hand the initial sync's garbage back to the OS.

    The first sync parses every object at once; without this, the allocator keeps that
    peak as resident memory for the life of the process.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)

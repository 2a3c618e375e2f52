"""The reconciler: dirty customers → validate → render → check + atomic write → reload → status.

Level-triggered: a sync derives a customer's output from everything stored for it, never
from the change that woke it, so a restart or a missed change heals on the next pass.
Incremental: only dirty customers are validated and re-rendered; the Alertmanager config
is assembled from every customer's live receivers, and unchanged files are not rewritten.
An object whose newest spec is invalid keeps its last valid spec live and blocks nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AlertplaneError, ObjectRef, Problem
from .metrics import LAST_SUCCESS, OBJECTS, QUEUE_DEPTH, RELOADS, RULES, SYNC_DURATION, SYNCS
from .model import CustomerAlert, CustomerReceiver, CustomerReceiverSpec, Resource
from .render import ALERTMANAGER_PATH
from .render.alertmanager import render_alertmanager
from .render.platform import PlatformConfig
from .render.rules import render_rules, rules_path
from .sinks.files import generated_rule_files, write_files
from .sinks.reload import ReloadOutcome, reload
from .status import Verdict, status_values
from .store.repo import Store, Stored
from .store.tables import utcnow
from .validate import Parsed, parse_document, validate_all

log = logging.getLogger("alertplane.sync")

PROMETHEUS, ALERTMANAGER = "prometheus", "alertmanager"


@dataclass
class SyncSettings:
    out_dir: Path
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    coalesce_s: float = 0.2
    poll_s: float = 0.05
    retry_max_s: float = 30.0


@dataclass
class SyncReport:
    customers: list[str]
    outcome: str  # ok invalid write_failed reload_failed
    written: list[str] = field(default_factory=list)
    reloads: dict[str, ReloadOutcome] = field(default_factory=dict)
    invalid: int = 0
    duration_s: float = 0.0


class Reconciler:
    def __init__(self, store: Store, settings: SyncSettings) -> None:
        self.store = store
        self.settings = settings
        self.live: dict[str, list[Resource]] = {}
        self.pending_reload: set[str] = set()
        self.marker = 0
        self.ready = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._retry: set[str] = set()
        self._retry_at = 0.0
        self._retry_delay = 0.5
        self._first = True

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
            report = self._sync(None if customers is None else set(customers))
            report.duration_s = time.monotonic() - start
        SYNCS.labels(report.outcome).inc()
        if report.outcome == "ok":
            LAST_SUCCESS.set_to_current_time()
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
        stored = sorted(self.store.get(customers=customers), key=lambda s: s.row.id)
        targets = {s.row.customer_id for s in stored}
        targets |= set(self.live) if customers is None else customers
        problems, parsed = self._validate(stored)
        live: dict[str, list[Resource]] = {cid: [] for cid in targets}
        for item in stored:
            obj = parsed.get(item.row.id) if item.ref not in problems else _live_version(item)
            if obj is not None:
                live[obj.spec.customer_id].append(obj)
        files: dict[str, str | None] = {}
        for cid in sorted(targets):
            alerts = [o.spec for o in live[cid] if isinstance(o, CustomerAlert)]
            files[rules_path(cid)] = render_rules(cid, alerts)
            if live[cid]:
                self.live[cid] = live[cid]
            else:
                self.live.pop(cid, None)
        if self._first:  # on start, also drop files of customers that no longer exist
            for rel in generated_rule_files(self.settings.out_dir):
                files.setdefault(rel, None)
        files[ALERTMANAGER_PATH] = render_alertmanager(self._receivers(), self.settings.platform)

        report = SyncReport(sorted(targets), "ok", invalid=len(problems))
        write_error = ""
        try:
            result = write_files(self.settings.out_dir, files)
            report.written = result.changed
            self._first = False
        except (AlertplaneError, OSError) as exc:
            write_error = str(exc)
            log.error("write failed: %s", exc)
        if any(rel.startswith("rules/") for rel in report.written):
            self.pending_reload.add(PROMETHEUS)
        if ALERTMANAGER_PATH in report.written:
            self.pending_reload.add(ALERTMANAGER)
        report.reloads = self._reload()
        self._save_statuses(stored, problems, parsed, report, write_error)
        failed = [t for t, r in report.reloads.items() if not r.ok]
        if write_error:
            report.outcome = "write_failed"
        elif failed:
            report.outcome = "reload_failed"
        elif problems:
            report.outcome = "invalid"
        if write_error or failed:
            self._schedule_retry(targets)
        else:
            self._retry_delay = 0.5
        return report

    def _validate(
        self, stored: list[Stored]
    ) -> tuple[dict[ObjectRef, list[Problem]], dict[int, Resource]]:
        problems: dict[ObjectRef, list[Problem]] = {}
        parsed: dict[int, Resource] = {}
        items: list[Parsed] = []
        for st in stored:
            obj, found = parse_document(st.manifest(with_status=False))
            if obj is None:
                problems[st.ref] = [p.at(st.ref) for p in found]
                continue
            parsed[st.row.id] = obj
            items.append(Parsed(obj))
        for problem in validate_all(items, self.settings.platform):
            if problem.obj is not None:
                problems.setdefault(problem.obj, []).append(problem)
        return problems, parsed

    def _receivers(self) -> dict[str, list[tuple[str, CustomerReceiverSpec]]]:
        return {
            cid: [(o.metadata.namespace, o.spec) for o in objs if isinstance(o, CustomerReceiver)]
            for cid, objs in self.live.items()
        }

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
        self,
        stored: list[Stored],
        problems: dict[ObjectRef, list[Problem]],
        parsed: dict[int, Resource],
        report: SyncReport,
        write_error: str,
    ) -> None:
        now = utcnow()
        updates = {}
        for st in stored:
            target = PROMETHEUS if st.row.kind == "CustomerAlert" else ALERTMANAGER
            verdict = self._verdict(
                st,
                problems.get(st.ref),
                parsed.get(st.row.id),
                target,
                report.reloads.get(target),
                write_error,
            )
            values = status_values(verdict, st.status.conditions if st.status else [], now)
            if verdict.valid:
                values["live_generation"] = st.row.generation
                values["live_spec"] = st.row.spec
            updates[st.row.id] = values
        self.store.save_statuses(updates)

    def _verdict(
        self,
        st: Stored,
        problems: list[Problem] | None,
        obj: Resource | None,
        target: str,
        outcome: ReloadOutcome | None,
        write_error: str,
    ) -> Verdict:
        gen = st.row.generation
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
        disabled = isinstance(obj, CustomerAlert) and not obj.spec.enabled
        rendered = _rendered_to(obj, st.row.customer_id) if not disabled else ()
        if problems:
            live_gen = st.status.live_generation if st.status else None
            text = "; ".join(p.text() for p in problems)
            if live_gen is not None:
                live_obj = _live_version(st)
                return Verdict(
                    gen,
                    False,
                    text,
                    live_gen,
                    False,
                    "Superseded",
                    f"generation {live_gen} stays live; generation {gen} is invalid",
                    rendered_to=_rendered_to(live_obj, st.row.customer_id),
                )
            return Verdict(
                gen, False, text, None, False, "Pending", "not rendered: the spec is invalid"
            )
        return Verdict(gen, True, "", gen, synced, reason, message, disabled, rendered)

    def _schedule_retry(self, customers: set[str]) -> None:
        self._retry |= customers
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.settings.retry_max_s)

    def _refresh_gauges(self) -> None:
        OBJECTS.clear()
        for (kind, phase), count in self.store.phase_counts().items():
            OBJECTS.labels(kind, phase).set(count)
        RULES.set(
            sum(
                1
                for objs in self.live.values()
                for o in objs
                if isinstance(o, CustomerAlert) and o.spec.enabled
            )
        )

    # -- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sync_all()
                break
            except Exception:
                log.exception("initial sync failed; retrying")
                stop.wait(2.0)
        self.ready.set()
        while not stop.is_set():
            try:
                self._step(stop)
            except Exception:  # a bad pass must never stop reconciliation
                log.exception("sync failed; will retry")
                self._schedule_retry(set(self.live))
                stop.wait(1.0)

    def _step(self, stop: threading.Event) -> None:
        self._wake.wait(self.settings.poll_s)
        self._wake.clear()
        touched, self.marker = self.store.changed_since(self.marker)
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


def _live_version(st: Stored) -> Resource | None:
    if st.status is None or st.status.live_spec is None:
        return None
    obj, _ = parse_document(st.manifest(spec=st.status.live_spec, with_status=False))
    return obj


def _rendered_to(obj: Resource | None, customer_id: str) -> tuple[str, ...]:
    if obj is None:
        return ()
    if isinstance(obj, CustomerAlert):
        return (rules_path(customer_id),) if obj.spec.enabled else ()
    return (ALERTMANAGER_PATH,)

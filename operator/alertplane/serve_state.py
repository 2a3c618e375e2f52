"""What `serve`'s processes share about the reconciler, and who runs it.

The reconciler runs in one process per database (store/election.py): the one holding the
reconciler lock. `reconcile_elected` waits for that lock (standby meanwhile), runs the
reconciler while the lock is held, and stops it when the lock's session breaks, to
campaign again. `SyncView` carries what /readyz and /metrics say about it to the API
worker processes (workers.py), in memory shared with them: the reconciler's readiness and
failures, this process's role (reconciling or standby) and the text of its metrics — the
counters live in the process that syncs, and an API worker answers /metrics with them.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .api.auth import Auth
from .api.errors import answer
from .errors import Forbidden, Refused
from .health import Probe, SyncState, readiness
from .metrics import REGISTRY
from .serve_http import Asgi, Flag, Scope
from .store.election import ReconcilerLock

log = logging.getLogger("alertplane.serve")

STARTING, RECONCILING, STANDBY = 0, 1, 2
ROLES = {STARTING: "starting", RECONCILING: "this process", STANDBY: "standby"}
FAILURE_MAX = 256  # bytes of the failure text (a few words, health.failure_kind)
METRICS_MAX = 1 << 20  # bytes of the metrics text shared with the workers
CHECK_S = 1.0  # how often the lock's holder checks its session
PUBLISH_S = 0.25
SLOTS = 64  # API worker processes at most (workers.MAX_WORKERS)


@dataclass
class _Seen:
    """A SyncState (health.py) as /readyz reads it: a copy of the shared values."""

    ready: threading.Event
    failing_since: float | None
    failure: str


class SyncView:
    """The reconciler's state in memory shared with spawned API workers (given to them
    as process arguments: multiprocessing's spawn context)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.migrated = ctx.Event()  # the database is there and migrated: the API may answer
        self._ready = ctx.Event()
        self._failing_since = ctx.Value("d", 0.0)
        self._failure = ctx.Array("c", FAILURE_MAX)
        self._role = ctx.Value("i", STARTING)
        self._metrics = ctx.Array("c", METRICS_MAX)
        self._metrics_len = ctx.Value("i", 0)
        self._metrics_too_large = False
        # Slot i is 1 while API worker i serves (workers.py); the supervisor clears the
        # slot of a worker that died without clearing it (SIGKILL).
        self.serving = ctx.Array("b", SLOTS)

    @property
    def role(self) -> str:
        return ROLES[int(self._role.value)]

    def set_role(self, role: int) -> None:
        self._role.value = role

    def publish(self, state: SyncState, metrics: bool) -> None:
        """Copy the reconciler's readiness and failure (and, for workers, the metrics)."""
        if state.ready.is_set():
            self._ready.set()
        self._failing_since.value = state.failing_since or 0.0
        failure = state.failure.encode()[: FAILURE_MAX - 1]
        with self._failure.get_lock():
            self._failure[: len(failure) + 1] = failure + b"\0"
        if metrics:
            self._publish_metrics(generate_latest(REGISTRY))

    def _publish_metrics(self, text: bytes) -> None:
        if len(text) > METRICS_MAX:
            if not self._metrics_too_large:  # once: keep serving the last text that fit
                log.error(
                    "metrics text of %d bytes exceeds %d; not updated", len(text), METRICS_MAX
                )
                self._metrics_too_large = True
            return
        with self._metrics.get_lock():
            self._metrics[: len(text)] = text
            self._metrics_len.value = len(text)

    def metrics_text(self) -> bytes:
        with self._metrics.get_lock():
            return bytes(self._metrics[: self._metrics_len.value])

    def seen(self) -> _Seen:
        """What readiness sees. A standby is ready: its API serves, and syncing is the
        reconciling process's job (its own /readyz says how that goes)."""
        ready = threading.Event()
        if self._role.value == STANDBY:
            ready.set()
            return _Seen(ready, None, "")
        if self._ready.is_set():
            ready.set()
        since = float(self._failing_since.value) or None
        with self._failure.get_lock():
            failure = bytes(self._failure[:]).split(b"\0", 1)[0]
        return _Seen(ready, since, failure.decode(errors="replace"))


def observed(
    app: Asgi,
    view: SyncView,
    database: Probe,
    grace_s: float,
    migrated: Flag,
    auth: Auth | None = None,
) -> Asgi:
    """`app` with /readyz answered from `view` (the body also says which process
    reconciles: "this process", "standby" or "starting", and how many API worker
    processes serve, `apiWorkers`, when there are any); with `auth` (API workers, which
    do not sync), /metrics answered with the reconciling process's metrics, to admin
    tokens only, as the app itself does."""

    async def serve(scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path == "/readyz":
            ok, body = await anyio.to_thread.run_sync(_readiness, view, database, grace_s, migrated)
            await JSONResponse(body, status_code=200 if ok else 503)(scope, receive, send)
        elif path == "/metrics" and auth is not None:
            await _metrics(view, auth, Request(scope))(scope, receive, send)
        else:
            await app(scope, receive, send)

    return serve


def _readiness(
    view: SyncView, database: Probe, grace_s: float, migrated: Flag
) -> tuple[bool, dict[str, Any]]:
    done = threading.Event()
    if migrated.is_set():
        done.set()
    ok, body = readiness(view.seen(), database, grace_s, migrated=done)
    body = {**body, "reconciler": view.role}
    if up := sum(view.serving[:]):
        body["apiWorkers"] = up
    return ok, body


def _metrics(view: SyncView, auth: Auth, request: Request) -> Response:
    try:
        if not auth.bearer(request).is_admin:
            raise Forbidden("/metrics needs an admin token (or serve --metrics-port)")
    except Refused as refused:
        return answer(refused)
    return Response(view.metrics_text(), media_type=CONTENT_TYPE_LATEST)


class Reconciling(SyncState, Protocol):
    """What `reconcile_elected` runs: sync.Reconciler (a protocol, so this module needs
    no more of it)."""

    def run(self, stop: threading.Event) -> None: ...


def reconcile_elected(
    reconciler: Reconciling, lock: ReconcilerLock, stop: threading.Event, view: SyncView
) -> None:
    """Run `reconciler` while this process holds the reconciler lock, until `stop`. A
    lost lock stops it; it runs again (a full pass first: the reconciler is
    level-triggered) once the lock is this process's again."""
    while not stop.is_set():
        if not lock.acquire(stop, waiting=lambda: view.set_role(STANDBY)):
            return
        view.set_role(RECONCILING)
        running = threading.Event()
        watch = threading.Thread(
            target=_watch, args=(lock, stop, running), name="reconciler-lock", daemon=True
        )
        watch.start()
        try:
            reconciler.run(running)
        finally:
            running.set()
            watch.join()
            lock.release()
        if not stop.is_set():
            view.set_role(STARTING)
            log.error(
                "the reconciler stopped: the lock of %s was lost; campaigning again", lock.where
            )


def _watch(lock: ReconcilerLock, stop: threading.Event, running: threading.Event) -> None:
    """Set `running` (the reconciler's stop) at shutdown, or when the lock's session broke."""
    last = time.monotonic()
    while not running.is_set() and not stop.wait(0.1):
        if time.monotonic() - last >= CHECK_S:
            last = time.monotonic()
            if not lock.held():
                break
    running.set()


def publisher(
    view: SyncView, state: SyncState, stop: threading.Event, metrics: bool
) -> threading.Thread:
    """A thread copying the reconciler's state into `view` until `stop`."""

    def loop() -> None:
        while True:
            view.publish(state, metrics)
            if stop.wait(PUBLISH_S):
                return

    thread = threading.Thread(target=loop, name="sync-view", daemon=True)
    thread.start()
    return thread

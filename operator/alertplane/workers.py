"""`serve --workers N`: the REST API and the console in N processes over one database.

One Python process serves a few hundred writes a second on one core, and shares it with
the reconciler; past that the API needs processes. The `serve` process binds the port,
migrates the database, runs the reconciler (when it holds the reconciler lock:
serve_state.py) and supervises N API worker processes, which share the listening socket
(the kernel hands each connection to one of them) and each open their own database pool.

Nothing an API call relies on lives in a process: conflicts are the database's (every
write reads its object under a lock and is conditional on the generation it read; ETags
are generations; uniqueness is the database's; store/txn.py), the change feed is the
audit table (ids handed out in commit order; the reconciler polls it), and `?wait=true`
polls the object's status in the database. A worker's write does not wake the
reconciler, which finds it on its next poll (every 50 ms). A worker that dies is started
again; a worker whose `serve` process is gone stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from sqlalchemy.orm import sessionmaker

from .api.auth import Auth
from .health import database_probe
from .lifecycle import Shutdown
from .render.platform import PlatformConfig
from .serve_http import gated, run_http
from .serve_state import SLOTS, SyncView, observed
from .service.context import ApiSettings
from .service.mimir_alerts import MimirAlertmanager
from .service.tokens import Principal, TokenFile
from .store.db import make_engine, parse_url
from .store.repo import Store
from .web import create_app

log = logging.getLogger("alertplane.workers")

MAX_WORKERS = SLOTS
RESTART_MIN_S = 1.0  # a worker that keeps dying is started at most this often …
RESTART_MAX_S = 30.0  # … then ever less often (doubling), down to this …
STABLE_S = 10.0  # … until a run lasts this long


@dataclass(frozen=True)
class WorkerSpec:
    """What an API worker needs to build the app (picklable: it crosses a process spawn)."""

    db_url: str
    tokens: str | None
    platform: PlatformConfig
    alertmanager_url: str | None
    readiness_grace_s: float
    max_body_bytes: int
    mimir: MimirAlertmanager | None = None  # `--sink mimir`: the firing view asks Mimir


def worker_main(
    spec: WorkerSpec,
    sock: socket.socket,
    view: SyncView,
    parent: int,
    index: int,
    tokens: dict[str, Principal] | None = None,
) -> None:
    """One API worker process: the app over its own engine, on the shared socket.

    In a process group of its own: a signal to `serve`'s group (Ctrl-C in a terminal, a
    supervisor's killpg) reaches `serve` alone, which stops its workers once, in order;
    a second SIGTERM would make a worker exit at once (lifecycle.py) mid-request.
    `tokens`: the `serve` process's tokens when it started this worker, in force if the
    file is broken now (a bad edit must not keep a restarted worker from serving)."""
    os.setpgid(0, 0)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    api = ApiSettings(
        tokens=TokenFile(spec.tokens, last_good=tokens), max_body_bytes=spec.max_body_bytes
    )
    api.alertmanager_url = spec.alertmanager_url
    api.mimir = spec.mimir
    engine = make_engine(_named(spec.db_url, index))
    try:
        store = Store(sessionmaker(engine, expire_on_commit=False), spec.platform.secrets_dir)
        app = create_app(None, api, store, platform=spec.platform)
        served = observed(
            gated(app, view.migrated),
            view,
            database_probe(engine),
            spec.readiness_grace_s,
            view.migrated,
            auth=Auth(api.tokens),
        )
        with Shutdown().installed() as shutdown:
            _orphan_watch(parent, shutdown)
            view.serving[index] = 1
            try:
                run_http(served, sock, shutdown)
            finally:
                view.serving[index] = 0
    finally:
        engine.dispose()


def _named(url: str, index: int) -> str:
    """PostgreSQL: the worker's sessions named (`pg_stat_activity.application_name`), so
    an operator sees which process holds which connection."""
    parsed = parse_url(url)
    if not parsed.drivername.startswith("postgresql") or "application_name" in parsed.query:
        return url
    named = parsed.update_query_dict({"application_name": f"alertplane-api-{index}"})
    return named.render_as_string(hide_password=False)


def _orphan_watch(parent: int, shutdown: Shutdown) -> None:
    """Stop when the `serve` process is gone (SIGKILLed): no API without its reconciler
    and supervisor, holding the port a restarted `serve` needs."""

    def watch() -> None:
        while not shutdown.requested.wait(1.0):
            if os.getppid() != parent:
                shutdown.request("the serve process is gone")

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class Workers:
    """N API worker processes, started, kept running and stopped by the `serve` process."""

    def __init__(
        self,
        n: int,
        spec: WorkerSpec,
        sock: socket.socket,
        view: SyncView,
        tokens: Callable[[], dict[str, Principal]] | None = None,
    ) -> None:
        self.n, self.spec, self.sock, self.view = n, spec, sock, view
        self._tokens = tokens  # the tokens in force, for each worker started
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[BaseProcess | None] = [None] * n
        self._started = [0.0] * n
        self._noticed: list[float | None] = [None] * n  # when its exit was first seen
        self._failures = [0] * n  # short runs in a row

    def start(self) -> None:
        for i in range(self.n):
            self._start(i)

    def _start(self, i: int, now: float | None = None) -> None:
        self._procs[i] = self._spawn(i)
        self._started[i] = time.monotonic() if now is None else now
        self._noticed[i] = None

    def _spawn(self, i: int) -> BaseProcess:
        proc = self._ctx.Process(
            target=worker_main,
            args=(self.spec, self.sock, self.view, os.getpid(), i, self._last_good()),
            name=f"api-worker-{i}",
            daemon=True,  # never outlive this process's interpreter
        )
        proc.start()
        return proc

    def _last_good(self) -> dict[str, Principal] | None:
        return None if self._tokens is None else self._tokens()

    def supervise(self, shutdown: Shutdown) -> None:
        """Until shutdown: a worker that exited is started again (and logged)."""
        while not shutdown.requested.wait(0.5):
            self.restart_exited(time.monotonic())

    def restart_exited(self, now: float) -> None:
        """Start again each worker that exited: at once after a run of STABLE_S or more;
        after each short run in a row twice as late (RESTART_MIN_S … RESTART_MAX_S), so
        a worker that dies at every start does not spawn an interpreter every second on
        the cores the reconciler and the other workers need."""
        for i, proc in enumerate(self._procs):
            if proc is None or proc.is_alive():
                continue
            noticed = self._noticed[i]
            if noticed is None:
                self._noticed[i] = noticed = now
                short = now - self._started[i] < STABLE_S
                self._failures[i] = self._failures[i] + 1 if short else 0
            failures = self._failures[i]
            wait = 0.0 if not failures else min(RESTART_MIN_S * 2 ** (failures - 1), RESTART_MAX_S)
            if now - noticed < wait or now - self._started[i] < RESTART_MIN_S:
                continue
            log.error("API worker %d (pid %s) exited with %s (%d short runs in a row); "
                      "starting it again", i, proc.pid, proc.exitcode, failures)  # fmt: skip
            proc.close()
            self.view.serving[i] = 0
            self._start(i, now)

    def stop(self, grace_s: float) -> None:
        """SIGTERM every worker (each finishes its requests), SIGKILL what is left."""
        alive = [p for p in self._procs if p is not None and p.is_alive()]
        for proc in alive:
            proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in alive:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error(
                    "API worker pid %s did not stop within %.0fs; killing it", proc.pid, grace_s
                )
                proc.kill()
                proc.join(5)

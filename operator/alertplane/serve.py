"""`alertplane serve`: the reconciler loop plus the HTTP server, in one process (or the
HTTP server in `--workers` API processes beside it: workers.py); with `--kubernetes` only
the HTTP server, writing custom resources the operator reconciles. Of several `serve`
processes on one database only one reconciles: the holder of its reconciler lock
(store/election.py); the others serve the API and stand by.

Start-up order: the port is bound first (a busy one is reported before anything slow),
then the database URL is checked, then the HTTP server answers while the database is
waited for with backoff (/healthz 200, /readyz 503, the API 503). SIGTERM and SIGINT stop
it the same way, within lifecycle.GRACE_S (lifecycle.py).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from .errors import UsageError
from .health import DB_DOWN, READINESS_GRACE_S, database_probe
from .kube.namespaces import NamespaceBindings
from .kube.writer import KubeWriter
from .lifecycle import Shutdown
from .metrics_port import serve_metrics
from .ports import bind
from .render.platform import PlatformConfig
from .serve_http import Asgi, gated, run_http
from .serve_state import SyncView, observed, publisher, reconcile_elected
from .service.context import ApiSettings
from .service.mimir_alerts import MimirAlertmanager
from .sinks.factory import SinkSettings, build_sink
from .store.db import database_url, make_engine, wait_for_database
from .store.election import ReconcilerLock
from .store.repo import Store
from .sync import Reconciler, SyncSettings
from .web import create_app
from .workers import MAX_WORKERS, Workers, WorkerSpec

log = logging.getLogger("alertplane.serve")


def serve(
    db_url: str | None,
    platform: PlatformConfig,
    out_dir: Path,
    prometheus_url: str | None,
    alertmanager_url: str | None,
    host: str,
    port: int,
    coalesce_s: float,
    tokens: str | None = None,
    kubernetes: bool = False,
    kubeconfig: str | None = None,
    customer_namespace: str = "{customer}",
    attribution_key_file: str | None = None,
    tenant_binding: bool = True,
    readiness_grace_s: float = READINESS_GRACE_S,
    sock: socket.socket | None = None,
    metrics_port: int | None = None,
    workers: int = 1,
    sink: SinkSettings | None = None,
) -> None:
    """`sink`: another sink than files in `out_dir` (`--sink mimir`).
    `sock`: the listening socket when the caller bound it already (cmd_serve does,
    before importing this module: a busy port is reported within a fraction of a second).
    `metrics_port`: also serve /metrics there without a token (metrics_port.py).
    `workers`: API worker processes (workers.py); 1 serves the API in this process."""
    _check_workers(workers, kubernetes)
    sock = sock or bind(host, port)
    with contextlib.closing(sock):
        api = ApiSettings.from_file(tokens)  # a broken tokens file stops here, before serving
        api.mimir = firing_source(sink)
        if metrics_port is not None:
            serve_metrics(host, metrics_port)
        engine, store = _open_store(db_url, kubernetes, tokens, platform)
        try:
            with Shutdown().installed() as shutdown:
                if kubernetes:
                    # No reconciler here to take the Alertmanager URL from: /firing and the
                    # console's firing alerts ask it through the API's own setting.
                    api.alertmanager_url = alertmanager_url
                    api.prometheus_url = prometheus_url  # the alert preview's (no shards)
                    serve_kubernetes(
                        store, platform, api, sock, shutdown, kubeconfig, customer_namespace,
                        attribution_key_file, tenant_binding, readiness_grace_s,
                    )  # fmt: skip
                    return
                settings = SyncSettings(
                    out_dir, platform, prometheus_url, alertmanager_url, coalesce_s
                )
                settings.sink = None if sink is None else build_sink(sink)
                where = (host, port)  # as given: the log names the address asked for
                spec = WorkerSpec(
                    database_url(db_url), tokens, platform, alertmanager_url,
                    readiness_grace_s, api.max_body_bytes, api.mimir,
                )  # fmt: skip
                serve_standalone(store, engine, settings, api, sock, shutdown, spec, where, workers)
        finally:
            engine.dispose()  # SQLite: closing the last connection removes -wal and -shm


def firing_source(sink: SinkSettings | None) -> MimirAlertmanager | None:
    """With the Mimir sink the firing view reads Mimir's per-tenant Alertmanager, through
    the same gateway and token as the sink (service/mimir_alerts.py)."""
    if sink is None or sink.kind != "mimir" or not sink.mimir_url:
        return None
    return MimirAlertmanager(sink.mimir_url, sink.mimir_token_file)


def _check_workers(workers: int, kubernetes: bool) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(
            f"--workers {workers}: must be between 1 and {MAX_WORKERS}",
            "about one API worker per core the API may use",
        )
    if kubernetes and workers > 1:
        raise UsageError(
            "--workers is for standalone mode; with --kubernetes the API holds no state",
            "run more replicas of the API Deployment (chart: api.replicas or api.autoscaling)",
        )


def _open_store(
    db_url: str | None, kubernetes: bool, tokens: str | None, platform: PlatformConfig
) -> tuple[Engine, Store]:
    """The engine and the store, after the checks that need no database."""
    if kubernetes and not db_url:
        raise UsageError(
            "--kubernetes needs --db: the database the operator mirrors the cluster into",
            "pass the operator's --db URL (PostgreSQL)",
        )
    engine = make_engine(database_url(db_url))  # a URL that cannot work stops here
    if tokens is None:
        log.warning(
            "no tokens file (--tokens, $ALERTPLANE_TOKENS): the REST API refuses every call"
        )
    secrets_dir = None if kubernetes else platform.secrets_dir  # the cluster has Secrets
    return engine, Store(sessionmaker(engine, expire_on_commit=False), secrets_dir)


def _run_with_worker(
    app: Asgi | None,
    sock: socket.socket,
    shutdown: Shutdown,
    work: Callable[[threading.Event], None],
    pool: Workers | None = None,
) -> None:
    """`work` in a thread beside the HTTP server: `app` served here, or `pool`'s
    processes serving it, supervised here until shutdown."""
    stop = threading.Event()
    shutdown.on_request(stop.set)
    worker = threading.Thread(target=work, args=(stop,), name="reconciler", daemon=True)
    worker.start()
    try:
        if pool is not None:
            pool.start()
            try:
                pool.supervise(shutdown)
            finally:
                pool.stop(shutdown.grace_s / 2)
        elif app is not None:
            run_http(app, sock, shutdown)
    finally:
        stop.set()
        worker.join(timeout=shutdown.grace_s)
        if worker.is_alive():
            log.error("the reconciler did not stop within %.0fs", shutdown.grace_s)


def serve_standalone(
    store: Store,
    engine: Engine,
    settings: SyncSettings,
    api: ApiSettings,
    sock: socket.socket,
    shutdown: Shutdown,
    spec: WorkerSpec,
    where: tuple[str, int],
    workers: int = 1,
) -> None:
    """The reconciler in a thread of this process, once the database is there and
    migrated and this process holds the reconciler lock (serve_state.py); the HTTP server
    in this process (`workers` 1) or in API worker processes (workers.py). The API answers
    503 until the database is migrated (serve_http.gated)."""
    if settings.sink is None:  # serve writes files unless told otherwise (sinks/factory.py)
        settings.sink = settings.files_sink()
    reconciler = Reconciler(store, settings)
    view = SyncView()
    lock = ReconcilerLock(engine)

    def work(stop: threading.Event) -> None:
        def waiting() -> None:
            reconciler.failed(DB_DOWN)

        publisher(view, reconciler, stop, metrics=workers > 1)
        try:
            if wait_for_database(engine, stop, on_retry=waiting):
                view.migrated.set()
                reconcile_elected(reconciler, lock, stop, view)
        finally:
            lock.release()

    to = settings.out_dir if settings.sink.name == "files" else f"the {settings.sink.name} sink"
    log.info("serving on http://%s:%d, writing to %s", *where, to)
    probe = database_probe(engine)
    if workers == 1:
        app = create_app(reconciler, api, store)
        served = observed(
            gated(app, view.migrated), view, probe, spec.readiness_grace_s, view.migrated
        )
        _run_with_worker(served, sock, shutdown, work)
        return
    log.info("%d API worker processes", workers)
    pool = Workers(workers, spec, sock, view, api.tokens.snapshot)
    _run_with_worker(None, sock, shutdown, work, pool)


def serve_kubernetes(
    store: Store,
    platform: PlatformConfig,
    api: ApiSettings,
    sock: socket.socket,
    shutdown: Shutdown,
    kubeconfig: str | None,
    customer_namespace: str,
    attribution_key_file: str | None = None,
    tenant_binding: bool = True,
    readiness_grace_s: float = READINESS_GRACE_S,
) -> None:
    """Reads from the operator's database mirror, writes custom resources; the operator
    (`alertplane operator --db` on the same database) does the rest."""
    from .kube.client import KubeClient, login  # kopf only loads in this mode
    from .kube.signing import load_key

    key = None
    if attribution_key_file is not None:
        key = load_key(attribution_key_file)
    else:
        log.warning(
            "no --attribution-key-file: the audit annotations this API writes are unsigned, "
            "so the operator cannot tell them from forged ones (unless its admission webhook "
            "runs with --api-service-account)"
        )
    client = KubeClient(lambda: login(kubeconfig), timeout=10.0)
    writer = KubeWriter(client, store, customer_namespace, key=key)
    # As the operator's --tenant-binding: a customer's reads and writes stay in the
    # namespaces bound to it (kube/namespaces.py).
    bindings = NamespaceBindings(client) if tenant_binding else None
    migrated = threading.Event()

    def work(stop: threading.Event) -> None:  # the operator migrates too; whoever is first
        if wait_for_database(store.engine, stop):
            migrated.set()

    app = create_app(
        None,
        api,
        store,
        writer=writer,
        platform=platform,
        bindings=bindings,
        readiness_grace_s=readiness_grace_s,
        migrated=migrated,
    )
    log.info(
        "serving on http://%s:%d, writing custom resources to %s",
        *sock.getsockname()[:2],
        client.info.server,
    )
    try:
        _run_with_worker(gated(app, migrated), sock, shutdown, work)
    finally:
        client.close()

"""`alertplane serve`: the reconciler loop plus the HTTP server, in one process; with
`--kubernetes` only the HTTP server, writing custom resources the operator reconciles.

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
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from .errors import UsageError
from .health import DB_DOWN, READINESS_GRACE_S
from .kube.namespaces import NamespaceBindings
from .kube.writer import KubeWriter
from .lifecycle import Shutdown
from .metrics_port import serve_metrics
from .ports import bind
from .render.platform import PlatformConfig
from .service.context import ApiSettings
from .store.db import database_url, make_engine, wait_for_database
from .store.repo import Store
from .sync import Reconciler, SyncSettings
from .web import create_app

log = logging.getLogger("alertplane.serve")

# Paths that answer while the database is still being waited for.
ALWAYS_OPEN = ("/healthz", "/readyz", "/metrics")

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: lifecycle.Shutdown handles SIGTERM and
    SIGINT for the whole process (uvicorn re-raises SIGTERM after stopping, which kills
    the process before the reconciler and the database are closed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _run_http(app: Asgi, sock: socket.socket, shutdown: Shutdown) -> None:
    config = uvicorn.Config(
        app,
        log_level="warning",
        # Requests still running get half the grace period; the rest is for the reconciler.
        timeout_graceful_shutdown=max(1, int(shutdown.grace_s / 2)),
    )
    server = _Server(config)

    def stop_http() -> None:
        server.should_exit = True

    shutdown.on_request(stop_http)
    server.run(sockets=[sock])


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
) -> None:
    """`sock`: the listening socket when the caller bound it already (cmd_serve does,
    before importing this module: a busy port is reported within a fraction of a second).
    `metrics_port`: also serve /metrics there without a token (metrics_port.py)."""
    sock = sock or bind(host, port)
    with contextlib.closing(sock):
        api = ApiSettings.from_file(tokens)  # a broken tokens file stops here, before serving
        if metrics_port is not None:
            serve_metrics(host, metrics_port)
        engine, store = _open_store(db_url, kubernetes, tokens, platform)
        try:
            with Shutdown().installed() as shutdown:
                if kubernetes:
                    # No reconciler here to take the Alertmanager URL from: /firing and the
                    # console's firing alerts ask it through the API's own setting.
                    api.alertmanager_url = alertmanager_url
                    serve_kubernetes(
                        store,
                        platform,
                        api,
                        sock,
                        shutdown,
                        kubeconfig,
                        customer_namespace,
                        attribution_key_file,
                        tenant_binding,
                        readiness_grace_s,
                    )
                    return
                settings = SyncSettings(
                    out_dir=out_dir,
                    platform=platform,
                    prometheus_url=prometheus_url,
                    alertmanager_url=alertmanager_url,
                    coalesce_s=coalesce_s,
                )
                where = (host, port)  # as given: the log names the address asked for
                serve_standalone(
                    store, engine, settings, api, sock, shutdown, readiness_grace_s, where
                )
        finally:
            engine.dispose()  # SQLite: closing the last connection removes -wal and -shm


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
    app: Asgi, sock: socket.socket, shutdown: Shutdown, work: Callable[[threading.Event], None]
) -> None:
    stop = threading.Event()
    shutdown.on_request(stop.set)
    worker = threading.Thread(target=work, args=(stop,), name="reconciler", daemon=True)
    worker.start()
    try:
        _run_http(app, sock, shutdown)
    finally:
        stop.set()
        worker.join(timeout=shutdown.grace_s)
        if worker.is_alive():
            log.error("the reconciler did not stop within %.0fs", shutdown.grace_s)


def _gated(app: Asgi, ready: threading.Event) -> Asgi:
    """503 for the API and console until the database is there and migrated (the tables
    of a fresh PostgreSQL database do not exist before that)."""

    async def gated(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not ready.is_set() and scope["path"] not in ALWAYS_OPEN:
            answer = JSONResponse(
                {"detail": "database unavailable; retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
            await answer(scope, receive, send)
            return
        await app(scope, receive, send)

    return gated


def serve_standalone(
    store: Store,
    engine: Engine,
    settings: SyncSettings,
    api: ApiSettings,
    sock: socket.socket,
    shutdown: Shutdown,
    readiness_grace_s: float,
    where: tuple[str, int],
) -> None:
    """The reconciler in a worker thread, once the database is there and migrated, beside
    the HTTP server (which answers 503 until then: `_gated`)."""
    settings.sink = settings.files_sink()  # serve writes files (sinks/factory.py)
    reconciler = Reconciler(store, settings)
    migrated = threading.Event()

    def work(stop: threading.Event) -> None:
        def waiting() -> None:
            reconciler.failed(DB_DOWN)

        if wait_for_database(engine, stop, on_retry=waiting):
            migrated.set()
            reconciler.run(stop)

    app = create_app(reconciler, api, store, readiness_grace_s=readiness_grace_s, migrated=migrated)
    log.info("serving on http://%s:%d, writing to %s", *where, settings.out_dir)
    _run_with_worker(_gated(app, migrated), sock, shutdown, work)


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
        _run_with_worker(_gated(app, migrated), sock, shutdown, work)
    finally:
        client.close()

"""`alertplane serve`: the reconciler loop plus the HTTP server, in one process; with
`--kubernetes` only the HTTP server, writing custom resources the operator reconciles."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import uvicorn

from .api.app import create_app
from .api.context import ApiSettings
from .api.kube import KubeWriter
from .api.tenancy import NamespaceBindings
from .errors import UsageError
from .metrics_port import serve_metrics
from .render.platform import PlatformConfig
from .store.db import open_db
from .store.repo import Store
from .sync import Reconciler, SyncSettings

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
    metrics_port: int | None = None,
) -> None:
    """`metrics_port`: also serve /metrics there without a token (metrics_port.py)."""
    api = ApiSettings.from_file(tokens)  # a broken tokens file stops here, before serving
    if tokens is None:
        log.warning(
            "no tokens file (--tokens, $ALERTPLANE_TOKENS): the REST API refuses every call"
        )
    if metrics_port is not None:
        serve_metrics(host, metrics_port)
    if kubernetes:
        # No reconciler here to take the Alertmanager URL from: /firing and the console's
        # firing alerts ask it through the API's own setting.
        api.alertmanager_url = alertmanager_url
        serve_kubernetes(
            db_url,
            platform,
            api,
            host,
            port,
            kubeconfig,
            customer_namespace,
            attribution_key_file,
            tenant_binding,
        )
        return
    store = Store(open_db(db_url), secrets_dir=platform.secrets_dir)
    settings = SyncSettings(
        out_dir=out_dir,
        platform=platform,
        prometheus_url=prometheus_url,
        alertmanager_url=alertmanager_url,
        coalesce_s=coalesce_s,
    )
    reconciler = Reconciler(store, settings)
    stop = threading.Event()
    worker = threading.Thread(target=reconciler.run, args=(stop,), name="reconciler", daemon=True)
    worker.start()
    log.info("serving on http://%s:%d, writing to %s", host, port, out_dir)
    try:
        uvicorn.run(create_app(reconciler, api, store), host=host, port=port, log_level="warning")
    finally:
        stop.set()
        worker.join(timeout=30)


def serve_kubernetes(
    db_url: str | None,
    platform: PlatformConfig,
    api: ApiSettings,
    host: str,
    port: int,
    kubeconfig: str | None,
    customer_namespace: str,
    attribution_key_file: str | None = None,
    tenant_binding: bool = True,
) -> None:
    """Reads from the operator's database mirror, writes custom resources; the operator
    (`alertplane operator --db` on the same database) does the rest."""
    from .k8s.client import KubeClient, login  # kopf only loads in this mode
    from .k8s.signing import load_key

    if not (db_url or os.environ.get("ALERTPLANE_DB")):
        raise UsageError(
            "--kubernetes needs --db: the database the operator mirrors the cluster into",
            "pass the operator's --db URL (PostgreSQL)",
        )
    key = None
    if attribution_key_file is not None:
        key = load_key(attribution_key_file)
    else:
        log.warning(
            "no --attribution-key-file: the audit annotations this API writes are unsigned, "
            "so the operator cannot tell them from forged ones (unless its admission webhook "
            "runs with --api-service-account)"
        )
    store = Store(open_db(db_url))
    client = KubeClient(lambda: login(kubeconfig), timeout=10.0)
    writer = KubeWriter(client, store, customer_namespace, key=key)
    # As the operator's --tenant-binding: a customer's reads and writes stay in the
    # namespaces bound to it (api/tenancy.py).
    bindings = NamespaceBindings(client) if tenant_binding else None
    log.info(
        "serving on http://%s:%d, writing custom resources to %s", host, port, client.info.server
    )
    app = create_app(None, api, store, writer=writer, platform=platform, bindings=bindings)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        client.close()

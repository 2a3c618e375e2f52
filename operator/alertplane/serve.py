"""`alertplane serve`: the reconciler loop plus the HTTP server, in one process."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import uvicorn

from .api.app import create_app
from .api.context import ApiSettings
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
) -> None:
    api = ApiSettings.from_file(tokens)  # a broken tokens file stops here, before serving
    if tokens is None:
        log.warning(
            "no tokens file (--tokens, $ALERTPLANE_TOKENS): the REST API refuses every call"
        )
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

"""The HTTP server's application: the REST API and the web console in one FastAPI app.

The two doors do not import each other (both call service/); this module, like serve.py
above it, is where they meet: the API's app with the console mounted beside it at
/console, sharing one service context.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

from . import console
from .api.app import create_app as create_api
from .health import READINESS_GRACE_S
from .kube.namespaces import NamespaceBindings
from .render.platform import PlatformConfig
from .service.context import ApiSettings
from .service.writers import Writer
from .store.repo import Store
from .sync import Reconciler


def create_app(
    reconciler: Reconciler | None,
    api: ApiSettings | None = None,
    store: Store | None = None,
    writer: Writer | None = None,
    platform: PlatformConfig | None = None,
    bindings: NamespaceBindings | None = None,
    readiness_grace_s: float = READINESS_GRACE_S,
    migrated: threading.Event | None = None,
) -> FastAPI:
    """api/app.create_app (its arguments) with the console at /console (and / → /console/)."""
    return create_api(
        reconciler,
        api,
        store,
        writer,
        platform,
        bindings,
        readiness_grace_s,
        migrated,
        mounts=(console.install,),
    )

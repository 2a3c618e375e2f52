"""FastAPI application served by `alertplane serve`."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..metrics import REGISTRY
from ..sync import Reconciler


def create_app(reconciler: Reconciler) -> FastAPI:
    app = FastAPI(title="alertplane", version=__version__)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(response: Response) -> dict[str, str]:
        # Ready once the first full sync from the store has finished.
        if not reconciler.ready.is_set():
            response.status_code = 503
            return {"status": "starting: initial sync not finished"}
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app

"""FastAPI application served by `alertplane serve`: health, metrics and the REST API.

The routes are thin: they authenticate, check the customer, and call the same core
functions as the CLI (parse, validate, store). Standalone mode: the reconciler running in
the same process is woken after every write. Kubernetes mode: writes become custom
resources the operator reconciles; reads come from its database mirror (`writer`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..errors import Forbidden, Refused
from ..health import READINESS_GRACE_S, Probe, database_probe, readiness
from ..kube.namespaces import NamespaceBindings
from ..metrics import REGISTRY
from ..render.platform import PlatformConfig
from ..service.context import ApiSettings, Context
from ..service.writers import Writer
from ..store.repo import Store
from ..sync import Reconciler
from . import (
    docs,
    routes_admin,
    routes_board,
    routes_customers,
    routes_objects,
    routes_preapply,
    routes_silences,
)
from .auth import Auth
from .bodylimit import BodyLimit
from .errors import answer, install_handlers
from .pathnames import KeepEscapedSlashes
from .responses import JSONResponse
from .schemas import spec_schemas

DESCRIPTION = """Per-customer alerting: alerts, receivers and routing of each customer.

Authenticate with `Authorization: Bearer <token>`; tokens come from the tokens file
(`alertplane token create NAME --role admin|customer:ID`). A customer token sees only
its own customer: every path of another customer answers 404, like a customer that does
not exist. Invalid input is answered with 422 and the problems `alertplane validate`
prints. Writes return at once with status phase Pending; `?wait=true` waits (≤ 10 s)
until the change is live (Synced) or found Invalid.
"""


# Another door served by the same app (the console): mounted beside the API's routes
# with the API's context. Given by the caller (web.py), so the API imports no other door.
Mount = Callable[[FastAPI, Context], None]


def create_app(
    reconciler: Reconciler | None,
    api: ApiSettings | None = None,
    store: Store | None = None,
    writer: Writer | None = None,
    platform: PlatformConfig | None = None,
    bindings: NamespaceBindings | None = None,
    readiness_grace_s: float = READINESS_GRACE_S,
    migrated: threading.Event | None = None,
    mounts: Sequence[Mount] = (),
) -> FastAPI:
    """The REST API is mounted when the objects can be read from a `Store`; the store
    defaults to the reconciler's. Kubernetes mode: no reconciler, a `writer` and the
    `platform` config instead, and with tenant binding the namespaces' `bindings`
    (kube/namespaces.py). /healthz and /readyz: see health.py; `migrated`: set once the
    database is migrated (serve.py answers the API with 503 until then). `mounts`: the
    other doors served beside the API (web.py adds the console)."""
    settings = api or ApiSettings()
    app = _app(settings)
    if store is None and reconciler is not None and isinstance(reconciler.store, Store):
        store = reconciler.store
    database = database_probe(store.engine) if store is not None else None
    _health(app, reconciler, database, readiness_grace_s, migrated)
    _metrics(app, Auth(settings.tokens))
    if store is not None:
        ctx = Context(reconciler, store, settings, writer, platform, bindings)
        _routes(app, ctx, Auth(settings.tokens))
        for mount in mounts:
            mount(app, ctx)
    _openapi(app)
    return app


def _app(settings: ApiSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        yield

    app = FastAPI(
        title="alertplane",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # docs.install serves /docs without a CDN; no /redoc
        redoc_url=None,
        default_response_class=JSONResponse,
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(KeepEscapedSlashes)
    docs.install(app)
    return app


def _health(
    app: FastAPI,
    reconciler: Reconciler | None,
    database: Probe | None,
    grace_s: float,
    migrated: threading.Event | None,
) -> None:
    # Liveness runs on the event loop, not in the worker threads, so slow requests that
    # hold every worker (large bodies, a slow database) never make the process look dead.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(response: Response) -> dict[str, Any]:
        ok, body = readiness(reconciler, database, grace_s, migrated=migrated)
        response.status_code = 200 if ok else 503
        return body


def _metrics(app: FastAPI, auth: Auth) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        # The metrics count every customer's objects and syncs: on this port (the one
        # customers reach) only for an admin token. A scrape without a token goes to
        # `serve --metrics-port`, a listener of its own (docs/usage.md, `--metrics-port`).
        try:
            if not auth.bearer(request).is_admin:
                raise Forbidden("/metrics needs an admin token (or serve --metrics-port)")
        except Refused as refused:
            return answer(refused)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _routes(app: FastAPI, ctx: Context, auth: Auth) -> None:
    install_handlers(app, auth.precheck)
    app.include_router(routes_customers.router(ctx, auth))
    for kind in routes_objects.KINDS:
        app.include_router(routes_objects.router(ctx, auth, kind))
    app.include_router(routes_admin.router(ctx, auth))
    app.include_router(routes_preapply.router(ctx, auth))
    app.include_router(routes_silences.router(ctx, auth))
    app.include_router(routes_board.router(ctx, auth))


def _openapi(app: FastAPI) -> None:
    """The schema FastAPI makes, with the specs' JSON schemas and the problems body."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(spec_schemas())
            _problems_for_422(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_for_422(schema: dict[str, Any]) -> None:
    """Every 422 this API gives has the problems body (see errors.install_handlers),
    including the ones FastAPI documents as its own HTTPValidationError."""
    problems = {"$ref": "#/components/schemas/ProblemsOut"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            content = answer.setdefault("content", {}).setdefault("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                content["schema"] = problems
                answer["description"] = "Invalid input: the problems."
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)

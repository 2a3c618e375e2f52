"""/customers/{customerId}/alerts: a customer's alert rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from . import crud
from .auth import Access
from .context import Context
from .objects import ALERT
from .schemas import EnabledIn, ObjectList, ObjectOut, RollbackIn, responses, spec_body

WAIT = Query(
    False,
    description="Block until the reconciler has synced the change or found it invalid "
    "(at most 10 s), then answer with the status it reached.",
)
SPEC = Body(None)  # parsed by the core, not by FastAPI: see objects.build
ALERT_NAME = Path(alias="alertName", description="spec.alertName of the alert.")


async def written(
    ctx: Context, wait: bool, write: Callable[..., dict[str, Any]], *args: Any
) -> dict[str, Any]:
    """Run a write in a worker thread; with `wait`, then wait for its outcome without one."""
    out = await run_in_threadpool(write, *args)
    return await ctx.settle(out) if wait else out


def router(ctx: Context) -> APIRouter:
    api = APIRouter(prefix="/customers/{customerId}/alerts", tags=["alerts"])
    customer = Depends(ctx.auth.customer)

    @api.get("", response_model=ObjectList, responses=responses(401, 404))
    def list_alerts(access: Access = customer) -> JSONResponse:
        """The customer's alerts with their status."""
        return JSONResponse({"items": crud.list_objects(ctx, access, ALERT)})

    @api.post(
        "",
        status_code=201,
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 422),
        openapi_extra=spec_body("AlertSpecIn", "The CustomerAlert spec (customerId optional)."),
    )
    async def create_alert(
        access: Access = customer, body: Any = SPEC, wait: bool = WAIT
    ) -> JSONResponse:
        """Create an alert; its status starts Pending. 409 when the alertName exists."""
        out = await written(ctx, wait, crud.create, ctx, access, ALERT, body)
        location = f"/customers/{access.customer}/alerts/{out['spec']['alertName']}"
        return JSONResponse(out, status_code=201, headers={"Location": location})

    @api.get("/{alertName}", response_model=ObjectOut, responses=responses(401, 404))
    def get_alert(access: Access = customer, name: str = ALERT_NAME) -> JSONResponse:
        """One alert with its status (phase, Valid/Synced conditions)."""
        return JSONResponse(crud.get_object(ctx, access, ALERT, name))

    @api.put(
        "/{alertName}",
        response_model=ObjectOut,
        responses=responses(401, 404, 422),
        openapi_extra=spec_body("AlertSpecUpdate", "The new spec (replaces the old one)."),
    )
    async def update_alert(
        access: Access = customer,
        name: str = ALERT_NAME,
        body: Any = SPEC,
        wait: bool = WAIT,
    ) -> JSONResponse:
        """Replace an alert's spec."""
        return JSONResponse(await written(ctx, wait, crud.update, ctx, access, ALERT, name, body))

    @api.patch("/{alertName}/enabled", response_model=ObjectOut, responses=responses(401, 404, 422))
    async def set_enabled(
        change: EnabledIn, access: Access = customer, name: str = ALERT_NAME, wait: bool = WAIT
    ) -> JSONResponse:
        """Enable or disable an alert (disabled alerts are kept but not rendered)."""
        out = await written(ctx, wait, crud.set_enabled, ctx, access, name, change.enabled)
        return JSONResponse(out)

    @api.delete("/{alertName}", status_code=204, responses=responses(401, 404))
    def delete_alert(access: Access = customer, name: str = ALERT_NAME) -> Response:
        crud.delete(ctx, access, ALERT, name)
        return Response(status_code=204)

    @api.post(
        "/{alertName}/rollback",
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 422),
    )
    async def rollback_alert(
        target: RollbackIn, access: Access = customer, name: str = ALERT_NAME, wait: bool = WAIT
    ) -> JSONResponse:
        """Restore the spec of an earlier generation (see the audit) as a new change."""
        version = target.version
        out = await written(ctx, wait, crud.rollback, ctx, access, ALERT, name, version)
        return JSONResponse(out)

    return api

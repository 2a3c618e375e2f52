"""/customers/{customerId}/receivers: a customer's notification targets and their routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Response
from fastapi.responses import JSONResponse

from . import crud
from .auth import Access
from .context import Context
from .objects import RECEIVER
from .routes_alerts import SPEC, WAIT, written
from .schemas import ObjectList, ObjectOut, RollbackIn, responses, spec_body

RECEIVER_NAME = Path(alias="receiverName", description="spec.receiverName of the receiver.")


def router(ctx: Context) -> APIRouter:
    api = APIRouter(prefix="/customers/{customerId}/receivers", tags=["receivers"])
    customer = Depends(ctx.auth.customer)

    @api.get("", response_model=ObjectList, responses=responses(401, 404))
    def list_receivers(access: Access = customer) -> JSONResponse:
        """The customer's receivers with their status. Secrets appear only as references."""
        return JSONResponse({"items": crud.list_objects(ctx, access, RECEIVER)})

    @api.post(
        "",
        status_code=201,
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 422),
        openapi_extra=spec_body(
            "ReceiverSpecIn",
            "The CustomerReceiver spec (customerId optional). A clear apiURL/routingKey is "
            "moved into a secret file and replaced by a reference before it is stored.",
        ),
    )
    async def create_receiver(
        access: Access = customer, body: Any = SPEC, wait: bool = WAIT
    ) -> JSONResponse:
        """Create a receiver. 409 when the receiverName exists."""
        out = await written(ctx, wait, crud.create, ctx, access, RECEIVER, body)
        location = f"/customers/{access.customer}/receivers/{out['spec']['receiverName']}"
        return JSONResponse(out, status_code=201, headers={"Location": location})

    @api.get("/{receiverName}", response_model=ObjectOut, responses=responses(401, 404))
    def get_receiver(access: Access = customer, name: str = RECEIVER_NAME) -> JSONResponse:
        return JSONResponse(crud.get_object(ctx, access, RECEIVER, name))

    @api.put(
        "/{receiverName}",
        response_model=ObjectOut,
        responses=responses(401, 404, 422),
        openapi_extra=spec_body("ReceiverSpecUpdate", "The new spec (replaces the old one)."),
    )
    async def update_receiver(
        access: Access = customer,
        name: str = RECEIVER_NAME,
        body: Any = SPEC,
        wait: bool = WAIT,
    ) -> JSONResponse:
        """Replace a receiver's spec."""
        out = await written(ctx, wait, crud.update, ctx, access, RECEIVER, name, body)
        return JSONResponse(out)

    @api.delete("/{receiverName}", status_code=204, responses=responses(401, 404))
    def delete_receiver(access: Access = customer, name: str = RECEIVER_NAME) -> Response:
        crud.delete(ctx, access, RECEIVER, name)
        return Response(status_code=204)

    @api.post(
        "/{receiverName}/rollback",
        response_model=ObjectOut,
        responses=responses(401, 404, 409, 422),
    )
    async def rollback_receiver(
        target: RollbackIn,
        access: Access = customer,
        name: str = RECEIVER_NAME,
        wait: bool = WAIT,
    ) -> JSONResponse:
        """Restore the spec of an earlier generation (see the audit) as a new change."""
        version = target.version
        out = await written(ctx, wait, crud.rollback, ctx, access, RECEIVER, name, version)
        return JSONResponse(out)

    return api

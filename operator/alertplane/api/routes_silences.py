"""/customers/{id}/silences: a customer's silences in Alertmanager (service/silences.py).

Bodies are checked by the service (silence_body.py), not by FastAPI, so the REST API, the
console and the board answer a wrong field with the same problem; their OpenAPI schemas
are declared here for clients and schemathesis.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..service import silences
from ..service.access import Access
from ..service.context import Context
from ..service.silence_body import MAX_COMMENT, MAX_MATCHERS, MAX_VALUE
from .auth import Auth
from .responses import JSONResponse
from .schemas import responses

BODY = Body(None)
SILENCE_ID = Path(max_length=64, description="The silence's id (Alertmanager's UUID).")
_MATCHER = {
    "type": "object",
    "required": ["name", "value"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "description": "A label name (not customer_id)."},
        "value": {"type": "string", "maxLength": MAX_VALUE},
        "isRegex": {"type": "boolean", "default": False},
        "isEqual": {"type": "boolean", "default": True},
    },
}
_END = {
    "endsAt": {"type": "string", "format": "date-time"},
    "duration": {"type": "string", "description": "From now (or startsAt): 30m, 2h, 1d."},
}
CREATE_SCHEMA = {
    "type": "object",
    "required": ["matchers", "comment"],
    "additionalProperties": False,
    "description": "Exactly one of endsAt and duration. customer_id is added by alertplane.",
    "properties": {
        "matchers": {"type": "array", "items": _MATCHER, "minItems": 1, "maxItems": MAX_MATCHERS},
        "comment": {"type": "string", "minLength": 1, "maxLength": MAX_COMMENT},
        "startsAt": {"type": "string", "format": "date-time"},
        **_END,
    },
}
EXTEND_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "The new end: exactly one of endsAt and duration (from now).",
    "properties": _END,
}


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


class MatcherOut(BaseModel):
    name: str
    value: str
    isRegex: bool
    isEqual: bool


class SilenceState(BaseModel):
    state: Literal["active", "pending", "expired", ""]


class SilenceOut(BaseModel):
    id: str
    customerId: str
    matchers: list[MatcherOut]
    startsAt: str
    endsAt: str
    updatedAt: str
    createdBy: str
    comment: str
    status: SilenceState


class SilenceList(BaseModel):
    items: list[SilenceOut]


def router(ctx: Context, auth: Auth) -> APIRouter:
    api = APIRouter(tags=["silences"])
    customer = Depends(auth.customer)
    base = "/customers/{customerId}/silences"
    down = (401, 404, 502, 503)

    @api.get(base, response_model=SilenceList, responses=responses(*down, 422))
    def list_silences(
        access: Access = customer,
        state: Literal["active", "pending", "expired"] | None = Query(
            None, description="Only silences in this state."
        ),
    ) -> JSONResponse:
        """The customer's silences in Alertmanager: active, then pending, then expired."""
        return JSONResponse({"items": silences.list_silences(ctx, access, state)})

    @api.post(
        base,
        status_code=201,
        response_model=SilenceOut,
        responses=responses(*down, 409, 422),
        openapi_extra=_body(CREATE_SCHEMA, "The silence; customer_id is added."),
    )
    async def create(access: Access = customer, body: Any = BODY) -> JSONResponse:
        """Silence the customer's alerts matching `matchers` (and customer_id="<id>",
        always) until `endsAt` or for `duration`; audited."""
        out = await run_in_threadpool(silences.create_silence, ctx, access, body)
        location = f"/customers/{access.customer}/silences/{out['id']}"
        return JSONResponse(out, status_code=201, headers={"Location": location})

    _add_item(api, ctx, customer, base + "/{silenceId}")
    return api


def _add_item(api: APIRouter, ctx: Context, customer: Any, item: str) -> None:
    down = (401, 404, 502, 503)

    @api.get(item, response_model=SilenceOut, responses=responses(*down))
    def get_silence(access: Access = customer, silenceId: str = SILENCE_ID) -> JSONResponse:
        """One of the customer's silences; another customer's id is 404."""
        return JSONResponse(silences.get_silence(ctx, access, silenceId))

    async def extend(
        access: Access = customer,
        silenceId: str = SILENCE_ID,
        body: Any = BODY,
    ) -> JSONResponse:
        """Set the silence's end (extend or shorten it); audited. Alertmanager may give
        the silence a new id: the answer has it."""
        return JSONResponse(
            await run_in_threadpool(silences.extend_silence, ctx, access, silenceId, body)
        )

    extra = _body(EXTEND_SCHEMA, "The new end.")
    for method in ("PATCH", "PUT"):
        api.add_api_route(
            item,
            extend,
            methods=[method],
            name=f"extend_silence_{method.lower()}",
            response_model=SilenceOut,
            responses=responses(*down, 409, 422),
            openapi_extra=extra,
        )

    @api.delete(item, response_model=SilenceOut, responses=responses(*down))
    async def expire(access: Access = customer, silenceId: str = SILENCE_ID) -> JSONResponse:
        """Expire the silence now (an expired one stays as it is); audited."""
        return JSONResponse(
            await run_in_threadpool(silences.expire_silence, ctx, access, silenceId)
        )

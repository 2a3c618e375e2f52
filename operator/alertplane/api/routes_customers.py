"""/customers, and what spans a whole customer: audit, routing, route test, firing alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from ..service import crud, customers
from ..service.access import Access
from ..service.context import Context
from ..service.tokens import Principal
from .auth import Auth
from .responses import JSONResponse
from .routes_objects import SPEC, WAIT
from .schemas import (
    AuditList,
    CustomerList,
    FiringList,
    ObjectList,
    RouteTestIn,
    RouteTestOut,
    responses,
    spec_body,
)


def router(ctx: Context, auth: Auth) -> APIRouter:
    api = APIRouter(tags=["customers"])
    customer = Depends(auth.customer)
    principal = Depends(auth.principal)

    @api.get("/customers", response_model=CustomerList, responses=responses(401))
    def list_customers(who: Principal = principal) -> JSONResponse:
        """Customers with their object counts; a customer token sees only its own."""
        known = customers.visible(ctx, who)
        return JSONResponse({"items": customers.overview(ctx, who, known)})

    @api.get(
        "/customers/{customerId}/audit",
        response_model=AuditList,
        responses=responses(401, 404),
    )
    def audit(
        access: Access = customer,
        name: str | None = Query(None, max_length=253, description="Only this object name."),
        limit: int = Query(200, ge=1, le=5000, description="The newest N entries."),
    ) -> JSONResponse:
        """Every change of the customer's objects (oldest first) with before/after specs,
        actor (the token name) and source. Secret values never appear."""
        return JSONResponse({"items": crud.audit(ctx, access, name, limit)})

    _add_routing(api, ctx, customer)
    _add_firing(api, ctx, customer)
    return api


def _add_routing(api: APIRouter, ctx: Context, customer: Any) -> None:
    @api.post(
        "/customers/{customerId}/routing",
        response_model=ObjectList,
        responses=responses(401, 404, 422),
        openapi_extra=spec_body(
            "RoutingIn", "receiverName → spec.route for the customer's receivers."
        ),
    )
    async def set_routing(
        access: Access = customer, body: Any = SPEC, wait: bool = WAIT
    ) -> JSONResponse:
        """Set the routes of several receivers in one change (all or none)."""
        items = await run_in_threadpool(customers.set_routes, ctx, access, body)
        if wait:
            items = [await ctx.settle(item) for item in items]
        return JSONResponse({"items": items})

    @api.post(
        "/customers/{customerId}/routing/test",
        response_model=RouteTestOut,
        responses=responses(401, 404, 422),
    )
    def test_routing(request: RouteTestIn, access: Access = customer) -> JSONResponse:
        """Which of the customer's receivers an alert with these labels reaches."""
        return JSONResponse(customers.route_test(ctx, access, dict(request.labels)))


def _add_firing(api: APIRouter, ctx: Context, customer: Any) -> None:
    @api.get(
        "/customers/{customerId}/firing",
        response_model=FiringList,
        responses=responses(401, 404, 502, 503),
    )
    def firing(
        access: Access = customer,
        silenced: bool = Query(True, description="Include silenced alerts."),
        inhibited: bool = Query(True, description="Include inhibited alerts."),
    ) -> JSONResponse:
        """The customer's active alerts, from Alertmanager (API v2)."""
        return JSONResponse({"items": customers.firing(ctx, access, silenced, inhibited)})

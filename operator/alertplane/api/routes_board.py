"""GET /board and /customers/{id}/board: the live alert board (service/board.py) as JSON,
the same data the console's board shows, for scripts and other dashboards.

A customer token's /board is its own customer's, like the console's; `customer=` of
another customer is 404 like every path of a customer the token may not see. Each token
builds at most two boards at once (503 beyond; service.board.Gate).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ..service import board as boards
from ..service import customers
from ..service.access import Access, access
from ..service.context import Context
from ..service.tokens import Principal
from .auth import Auth
from .responses import JSONResponse
from .schemas import responses

State = Literal["firing", "pending", "inhibited", "silenced"]
STATE = Query(None, description="Only alerts in this state.")
LIMIT = Query(500, ge=1, le=5000, description="At most this many items (counts cover all).")


class BoardItem(BaseModel):
    customerId: str
    alertName: str
    severity: str
    state: str = Field(description="firing, pending, inhibited or silenced.")
    since: str = Field(description="Firing since (Alertmanager), active since (pending).")
    value: str | None = Field(description="The condition's value at the last evaluation.")
    expr: str | None = Field(description="The stored alert's condition (alertName+severity).")
    labels: dict[str, str] = Field(description="The alert's other labels.")
    summary: str
    receivers: list[str] = Field(description="The customer's receivers it reaches.")
    team: str
    fingerprint: str = Field(description="Alertmanager's; empty while pending.")
    silencedBy: list[str]
    inhibitedBy: list[str]


class BoardOut(BaseModel):
    builtAt: str
    problems: list[str] = Field(description="Sources that did not answer or are not set up.")
    counts: dict[str, int] = Field(description="Alerts per state, of every alert.")
    items: list[BoardItem]
    more: int = Field(description="Alerts matching the filter beyond `limit`.")


def out(board: boards.Board, state: str | None, customer: str | None, limit: int) -> Any:
    picked = board.shown(state, customer, limit=len(board.alerts))
    items = [
        {
            "customerId": a.customer,
            "alertName": a.alertname,
            "severity": a.severity,
            "state": a.state,
            "since": a.since,
            "value": a.value,
            "expr": a.expr,
            "labels": a.labels,
            "summary": a.summary,
            "receivers": a.receivers,
            "team": a.team,
            "fingerprint": a.fingerprint,
            "silencedBy": a.silenced_by,
            "inhibitedBy": a.inhibited_by,
        }
        for a in picked[:limit]
    ]
    return {
        "builtAt": board.built_at,
        "problems": board.problems,
        "counts": board.counts(),
        "items": items,
        "more": max(0, len(picked) - limit),
    }


def router(ctx: Context, auth: Auth) -> APIRouter:
    api = APIRouter(tags=["board"])
    gate = boards.Gate()
    principal, customer_access = Depends(auth.principal), Depends(auth.customer)
    only = Query(None, max_length=63, description="Only this customer.")

    @api.get("/board", response_model=BoardOut, responses=responses(401, 404, 503))
    def every(
        who: Principal = principal,
        state: State | None = STATE,
        customer: str | None = only,
        limit: int = LIMIT,
    ) -> JSONResponse:
        """Every alert of the customers the token may see (a customer token: its own)."""
        known = customers.visible(ctx, who)
        if customer is not None:
            ctx.require_known(access(who, customer))  # another customer's: 404
            known = [customer]
        with gate.enter(who):
            board = boards.build(ctx, who, known)
        return JSONResponse(out(board, state, None, limit))

    @api.get(
        "/customers/{customerId}/board",
        response_model=BoardOut,
        responses=responses(401, 404, 503),
    )
    def one(
        found: Access = customer_access, state: State | None = STATE, limit: int = LIMIT
    ) -> JSONResponse:
        """The customer's alerts: state, since, condition and value, receivers."""
        ctx.require_known(found)
        with gate.enter(found.principal):
            board = boards.build(ctx, found.principal, [found.customer])
        return JSONResponse(out(board, state, None, limit))

    return api

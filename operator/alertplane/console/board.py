"""The live alert board (service/board.py) in the console: the board of every customer a
token may see (/console/board: an admin's all, a customer token's its own), one customer's
board with its timeline (/console/customers/{cid}/board), the fragments board.js polls,
and silence / unsilence in place.

Live updates are polling of a fragment, not a held connection: each refresh is one short
request, so a slow or stuck client holds no server resource between refreshes, and the
boards one token builds at once are capped (service.board.Gate: 503 beyond, the page
keeps what it shows and retries).

Silencing from the board never takes matchers from the browser: the form names the
alert by its Alertmanager fingerprint, the server finds that alert on the customer's own
board and silences exactly its labels (service.silences adds customer_id as always).
Unsilencing expires the silences Alertmanager says silence that alert; each is looked up
as the customer's (another customer's silence id is 404 there).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..service import board as boards
from ..service import customers
from ..service.access import Access
from ..service.board_sources import alerts_range
from ..service.board_timeline import HOURS, timeline, window
from . import board_actions
from .render import curl, html
from .session import PATH, Session
from .state import Console

EVERY_S = 5  # board refresh
TIMELINE_EVERY_S = 60


def _state(request: Request) -> str | None:
    state = request.query_params.get("state")
    return state if state in boards.STATES else None


def _hours(request: Request) -> int:
    raw = request.query_params.get("hours", "")
    # Compared as text: str.isdigit takes '²' for a digit (int refuses it) and int refuses
    # 5,000 digits; either was a 500.
    offered = {str(h): h for h in HOURS}
    return offered.get(raw, 6)


NOTICES = {"silenced": "{what} silenced.", "unsilenced": "{what} unsilenced."}


def notice(request: Request) -> str:
    """The line confirming a board action after its redirect (`?done=silenced&what=X`):
    fixed texts, the alert's name at most 300 characters (a link cannot put words here)."""
    code = request.query_params.get("done", "")
    what = request.query_params.get("what", "")[:300]
    return NOTICES[code].format(what=what) if code in NOTICES else ""


def _query(**values: str | None) -> str:
    kept = {k: v for k, v in values.items() if v}
    return ("?" + urllib.parse.urlencode(kept)) if kept else ""


def board_values(
    board: boards.Board, state: str | None, customer: str | None, scope: str
) -> dict[str, Any]:
    """What _board.html needs; `scope` "all" (the board of every customer) or a customer."""
    shown = board.shown(state, customer)
    picked = len(board.shown(state, customer, limit=len(board.alerts)))
    return {
        "board": board,
        "counts": board.counts(),
        "shown": shown,
        "hidden": picked - len(shown),
        "state": state or "",
        "customer": customer or "",
        "scope": scope,
        "states": boards.STATES,
    }


def add(api: APIRouter, console: Console) -> None:
    gate = boards.Gate()
    _add_all(api, console, gate)
    _add_customer(api, console, gate)
    board_actions.add(api, console, gate)


def _add_all(api: APIRouter, console: Console, gate: boards.Gate) -> None:
    ctx = console.ctx

    def values(request: Request) -> tuple[Session, dict[str, Any]]:
        session = console.session(request)
        who = session.principal
        known = customers.visible(ctx, who)
        chosen = request.query_params.get("customer") or None
        if chosen not in known:
            chosen = None
        state = _state(request)
        with gate.enter(who):
            board = boards.build(ctx, who, [chosen] if chosen else known)
        found = board_values(board, state, chosen, "all")
        found["known"] = known if who.customer is None else []
        found["fragment_url"] = f"{PATH}/fragments/board" + _query(state=state, customer=chosen)
        return session, found

    @api.get("/board")
    def board_page(request: Request) -> Response:
        session, found = values(request)
        return html("board.html", session=session, every=EVERY_S, notice=notice(request), **found)

    @api.get("/fragments/board")
    def board_fragment(request: Request) -> Response:
        session, found = values(request)
        return html("_board.html", session=session, **found)


def customer_values(
    console: Console, gate: boards.Gate, session: Session, access: Access, state: str | None
) -> dict[str, Any]:
    with gate.enter(session.principal):
        board = boards.build(console.ctx, session.principal, [access.customer])
    found = board_values(board, state, None, access.customer)
    found["fragment_url"] = curl(access.customer, "fragments", "board") + _query(state=state)
    return found


def _add_customer(api: APIRouter, console: Console, gate: boards.Gate) -> None:
    @api.get("/customers/{cid}/board")
    def customer_board(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        found = customer_values(console, gate, session, access, _state(request))
        hours = _hours(request)
        return html(
            "customer_board.html",
            session=session,
            cid=access.customer,
            tab="board",
            every=EVERY_S,
            notice=notice(request),
            timeline_every=TIMELINE_EVERY_S,
            hours=hours,
            hour_choices=HOURS,
            timeline_url=curl(access.customer, "fragments", "timeline") + _query(hours=str(hours)),
            **found,
            **timeline_values(console, access, hours),
        )

    @api.get("/customers/{cid}/fragments/board")
    def customer_board_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        found = customer_values(console, gate, session, access, _state(request))
        return html("_board.html", session=session, cid=access.customer, **found)

    @api.get("/customers/{cid}/fragments/timeline")
    def timeline_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        with gate.enter(session.principal):  # a Prometheus query each: bounded like boards
            values = timeline_values(console, access, _hours(request))
        return html("_timeline.html", session=session, cid=access.customer, **values)


def timeline_values(console: Console, access: Access, hours: int) -> dict[str, Any]:
    start, end, step = window(hours)
    series, problems = alerts_range(console.ctx, access.customer, start, end, step, 5.0)
    return {"timeline": timeline(series, hours, start, end), "timeline_problems": problems}

"""Silence and unsilence from the board (POST), through service.silences like every door.

The form names an alert by customer (the path) and Alertmanager fingerprint; the alert
is looked up on that customer's own board, so the browser chooses neither matchers nor
silence ids: a forged fingerprint of another customer's alert finds nothing (404), and
the silence carries customer_id="<path's customer>" whatever happens (service.silences).
With the console's script the answer is a notice and the board refreshes in place;
without it, a redirect back to the board with the notice.
"""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, NotFound, Problem
from ..service import board as boards
from ..service import silences
from ..service.access import Access
from .render import curl, html, redirect, wants_fragment
from .session import PATH, Session, check_csrf, read_form
from .state import Console

DURATIONS = ("1h", "2h", "4h", "1d")
MAX_MATCHERS = 15  # service.silences allows 16 with customer_id
NOT_ON_BOARD = "That alert is not on the board any more (it resolved, or it is not yours)."


def matchers(alert: boards.BoardAlert) -> list[dict[str, object]]:
    """Equality matchers on the alert's labels (customer_id is added by the service):
    alertname and severity first, then the others by name, at most MAX_MATCHERS."""
    labels = {"alertname": alert.alertname, "severity": alert.severity, **alert.labels}
    pairs = [(k, v) for k, v in labels.items() if v][:MAX_MATCHERS]
    return [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in pairs]


def _answer(
    request: Request, session: Session, form: dict[str, str], cid: str, done: tuple[str, str, str]
) -> Response:
    code, what, text = done
    if wants_fragment(request):
        return html("_board_notice.html", session=session, text=text)
    base = f"{PATH}/board" if form.get("back") == "all" else curl(cid, "board")
    return redirect(f"{base}?{urllib.parse.urlencode({'done': code, 'what': what})}")


def _alert(
    console: Console, gate: boards.Gate, session: Session, access: Access, fp: str
) -> boards.BoardAlert:
    with gate.enter(session.principal):
        board = boards.build(console.ctx, session.principal, [access.customer])
    found = boards.find(board, access.customer, fp)
    if found is None:
        raise NotFound(NOT_ON_BOARD)
    return found


def silence(
    console: Console, gate: boards.Gate, session: Session, access: Access, form: dict[str, str]
) -> tuple[str, str, str]:
    duration = form.get("duration", "2h")
    if duration not in DURATIONS:
        raise Invalid([Problem("duration", f"must be one of {', '.join(DURATIONS)}", "")])
    alert = _alert(console, gate, session, access, form.get("fingerprint", ""))
    body = {
        "matchers": matchers(alert),
        "duration": duration,
        "comment": f"silenced from the alert board by {session.principal.name}",
    }
    made = silences.create_silence(console.writes, access, body, session.principal.name)
    return (
        "silenced",
        alert.alertname,
        f"{alert.alertname} silenced for {duration} (silence {made.get('id', '')}).",
    )


def unsilence(
    console: Console, gate: boards.Gate, session: Session, access: Access, form: dict[str, str]
) -> tuple[str, str, str]:
    alert = _alert(console, gate, session, access, form.get("fingerprint", ""))
    if not alert.silenced_by:
        return "", alert.alertname, f"{alert.alertname} is not silenced."
    for sid in alert.silenced_by:
        silences.expire_silence(console.writes, access, sid, session.principal.name)
    ids = ", ".join(alert.silenced_by)
    return "unsilenced", alert.alertname, f"{alert.alertname} unsilenced (expired silence {ids})."


def add(api: APIRouter, console: Console, gate: boards.Gate) -> None:
    @api.post("/customers/{cid}/board/silence")
    async def silence_alert(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        text = await run_in_threadpool(silence, console, gate, session, access, form)
        return _answer(request, session, form, access.customer, text)

    @api.post("/customers/{cid}/board/unsilence")
    async def unsilence_alert(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        text = await run_in_threadpool(unsilence, console, gate, session, access, form)
        return _answer(request, session, form, access.customer, text)

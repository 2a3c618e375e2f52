"""The console's silence pages: a customer's silences (list, expire, extend by 2 hours) and
the form that creates one, prefilled from a firing alert ("Silence for 2h" on the firing
page: the alert's labels as matchers). Every write goes through service/silences.py, the
API's path: customer_id="<id>" added, audited with source "console"."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, Problem, Unavailable, UpstreamFailed
from ..service import silences
from ..service.access import Access
from ..service.silence_body import TENANT_LABEL, matcher_text, parse_matcher, parse_time, stamp
from . import views
from .render import ENV, curl, html, redirect
from .session import Session, check_csrf, read_form
from .state import Console

DEFAULT_DURATION = "2h"
EXTEND_BY = timedelta(hours=2)
NOTICES = {
    "created": "Silence {what} created.",
    "expired": "Silence {what} expired.",
    "extended": "Silence {what} extended by 2 hours.",
}
FIELDS = {
    "matchers": "matchers",
    "duration": "duration",
    "endsAt": "duration",
    "comment": "comment",
}


def silence_link(cid: str, labels: dict[str, str]) -> str:
    """The form to silence an alert with these labels (customer_id is the page's)."""
    pairs = [
        ("m", matcher_text({"name": k, "value": v})) for k, v in labels.items() if k != TENANT_LABEL
    ]
    return f"{curl(cid, 'silences', 'new')}?{urllib.parse.urlencode(pairs)}"


# The firing table links every alert to its prefilled form.
ENV.globals["silence_link"] = silence_link


def _notice(request: Request) -> str:
    code = request.query_params.get("notice", "")
    what = request.query_params.get("what", "")[:80]
    return NOTICES[code].format(what=what) if code in NOTICES else ""


def _listed(console: Console, access: Access) -> tuple[list[dict[str, Any]], str]:
    try:
        return silences.list_silences(console.ctx, access), ""
    except Unavailable as exc:
        return [], str(exc)
    except UpstreamFailed:
        return [], views.UNREACHABLE


def _form_page(
    session: Session,
    access: Access,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    return html(
        "silence_form.html",
        status,
        session=session,
        cid=access.customer,
        tab="silences",
        values=values,
        errors=errors,
        tenant=matcher_text({"name": TENANT_LABEL, "value": access.customer}),
    )


def matchers_of(text: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """One matcher per non-empty line of the form's text area."""
    found: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        matcher = parse_matcher(line.strip())
        if matcher is None:
            problems.append(
                Problem(
                    "matchers",
                    f"line {n} is not a matcher",
                    'write name="value", name!="value", name=~"regex" or name!~"regex"',
                )
            )
        else:
            found.append(matcher)
    return found, problems


def _pinned(problems: list[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        head = p.path.split("[", 1)[0].split(".", 1)[0]
        out.setdefault(FIELDS.get(head, "general"), []).append(p.text())
    return out


def add(api: APIRouter, console: Console) -> None:
    _add_pages(api, console)
    _add_writes(api, console)


def _add_pages(api: APIRouter, console: Console) -> None:
    @api.get("/customers/{cid}/silences")
    def silences_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        items, problem = _listed(console, access)
        return html(
            "silences.html",
            session=session,
            cid=access.customer,
            tab="silences",
            silences=items,
            problem=problem,
            notice=_notice(request),
            matcher_text=matcher_text,
        )

    @api.get("/customers/{cid}/silences/new")
    def silence_form(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        prefilled = [m[:2000] for m in request.query_params.getlist("m")[:16]]
        values = {"matchers": "\n".join(prefilled), "duration": DEFAULT_DURATION, "comment": ""}
        return _form_page(session, access, values, {})


def _add_writes(api: APIRouter, console: Console) -> None:
    ctx = console.writes  # audited with source "console"

    @api.post("/customers/{cid}/silences")
    async def create(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        values = {k: form.get(k, "") for k in ("matchers", "duration", "comment")}
        matchers, problems = matchers_of(values["matchers"])
        if not problems:
            body = {"matchers": matchers, "comment": values["comment"]}
            body["duration"] = values["duration"].strip()
            try:
                made = await run_in_threadpool(silences.create_silence, ctx, access, body)
                return _done(cid, "created", made["id"])
            except Invalid as exc:
                problems = exc.problems
        return _form_page(session, access, values, _pinned(problems), 422)

    @api.post("/customers/{cid}/silences/{sid}/expire")
    async def expire(request: Request, cid: str, sid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        check_csrf(session, await read_form(request))
        gone = await run_in_threadpool(silences.expire_silence, ctx, access, sid)
        return _done(cid, "expired", gone["id"])

    @api.post("/customers/{cid}/silences/{sid}/extend")
    async def extend(request: Request, cid: str, sid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        check_csrf(session, await read_form(request))
        current = await run_in_threadpool(silences.get_silence, ctx, access, sid)
        end = parse_time(current["endsAt"]) or datetime.now(UTC)
        new_end = stamp(max(end, datetime.now(UTC)) + EXTEND_BY)
        out = await run_in_threadpool(silences.extend_silence, ctx, access, sid, new_end)
        return _done(cid, "extended", out["id"])


def _done(cid: str, code: str, what: str) -> Response:
    query = urllib.parse.urlencode({"notice": code, "what": what})
    return redirect(f"{curl(cid, 'silences')}?{query}")

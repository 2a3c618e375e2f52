"""The alert form's Preview button: the form as typed, evaluated now on the customer's
Prometheus (service/preview.py, the REST API's preview), shown under the form, which
opens again with what was typed. Nothing is stored.

A second submit button of the same form (`formaction`), so it needs no JavaScript and
works from the keyboard like Save; CSRF-checked like every console POST.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, Problem, Unavailable, UpstreamFailed
from ..service.access import Access
from ..service.objects import ALERT, restore, view
from ..service.preview import Preview, preview
from . import forms, views
from .editing import ALERT_FORM, form_page
from .session import check_csrf, read_form
from .state import Console


def _evaluate(
    console: Console, access: Access, spec: dict[str, Any]
) -> tuple[Preview | None, list[Problem], str]:
    """(the preview, the problems pinned on fields, a message for the whole form)."""
    try:
        return preview(console.ctx, access, spec, console.ctx.settings.firing_timeout_s), [], ""
    except Invalid as exc:
        return None, exc.problems, "" if exc.problems else exc.detail
    except (Unavailable, UpstreamFailed) as exc:
        return None, [], exc.detail


async def _answer(console: Console, request: Request, cid: str, name: str | None) -> Response:
    session, access = await run_in_threadpool(console.access, request, cid, name is not None)
    row = None
    if name is not None:
        found = await run_in_threadpool(console.ctx.lookup, ALERT, access, name)
        row = views.row(view(found))
    form = await read_form(request)
    check_csrf(session, form)
    spec, problems = forms.spec_of(form, name)
    result, message = None, ""
    if not problems:
        result, problems, message = await run_in_threadpool(_evaluate, console, access, spec)
    return form_page(
        ALERT_FORM,
        session,
        access,
        row,
        forms.submitted(form),
        forms.pin(problems),
        200 if result is not None else 422,
        preview=result,
        preview_error=message,
        previewed=True,
    )


def add(api: APIRouter, console: Console) -> None:
    """The new form's Preview, and an existing alert's (its edit form opens again)."""

    async def new_alert_preview(request: Request, cid: str) -> Response:
        return await _answer(console, request, cid, None)

    async def alert_preview(request: Request, cid: str, name: str) -> Response:
        return await _answer(console, request, cid, restore(name))

    base = "/customers/{cid}"
    api.add_api_route(f"{base}/alert-preview", new_alert_preview, methods=["POST"])
    api.add_api_route(f"{base}/alerts/{{name}}/preview", alert_preview, methods=["POST"])

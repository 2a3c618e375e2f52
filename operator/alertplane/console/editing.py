"""The edit forms of alerts, receivers and recording rules: one flow for every kind.

new form → POST → CSRF → the form's fields reshaped into a spec → the REST API's own
write function (`service.crud`, admitted by `core.admit` like every door, audited with source
"console") → a short wait for the reconciler's verdict. A refused write is shown on the
field it is about, with what was typed (never a secret); nothing is stored then. What
only promtool/amtool find (templates) does not refuse a write (the one admission
policy): the reconciler marks the object Invalid and the form opens again on it, the
problem on its field.
The kinds differ only in the data below (`FormKind`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Conflict, Invalid, ObjectRef, Problem
from ..model import info
from ..service import crud
from ..service.access import Access
from ..service.objects import (
    ALERT,
    NAME_KEY,
    RECEIVER,
    RECORDING_RULE,
    SLO,
    object_name,
    restore,
    view,
)
from . import forms, receiver_form, record_form, slo_form, views
from .render import alert_url, curl, html, notice, redirect
from .session import Session, check_csrf, read_form
from .state import Console


@dataclass(frozen=True)
class FormKind:
    kind: str
    noun: str  # "alert", "receiver"
    tab: str
    template: str
    new: str  # path part of the new form: "new-alert"
    items: str  # path part of one object: "alerts"
    listing: tuple[str, ...]  # path parts of the list page
    notice: str  # prefix of the notice codes (see routes.NOTICES)
    values_of: Callable[[dict[str, Any] | None], dict[str, Any]]
    spec_of: Callable[[dict[str, str], str | None], tuple[dict[str, Any], list[Problem]]]
    submitted: Callable[[dict[str, str]], dict[str, Any]]
    pin: Callable[[list[Problem]], forms.FieldErrors]
    pin_texts: Callable[[str], forms.FieldErrors]
    extra: dict[str, Any]  # more template values (choices)


ALERT_FORM = FormKind(
    ALERT, "alert", "alerts", "alert_form.html", "new-alert", "alerts", (), "",
    forms.values_of, forms.spec_of, forms.submitted, forms.pin, forms.pin_texts,
    {"choices": forms.CHOICES},
)  # fmt: skip
RECEIVER_FORM = FormKind(
    RECEIVER, "receiver", "receivers", "receiver_form.html", "new-receiver", "receivers",
    ("receivers",), "receiver-",
    receiver_form.values_of, receiver_form.spec_of, receiver_form.submitted,
    receiver_form.pin, receiver_form.pin_texts,
    {"channels": receiver_form.CHANNELS, "match_choices": receiver_form.MATCH_CHOICES,
     "blank_entry": receiver_form.blank_entry, "titles": receiver_form.TITLES,
     "labels": receiver_form.LABELS, "hints": receiver_form.HINTS},
)  # fmt: skip
RECORD_FORM = FormKind(
    RECORDING_RULE, "recordingrule", "recordingrules", "record_form.html", "new-recordingrule",
    "recordingrules", ("recordingrules",), "record-",
    record_form.values_of, record_form.spec_of, record_form.submitted,
    record_form.pin, record_form.pin_texts, {},
)  # fmt: skip


SLO_FORM = FormKind(
    SLO, "SLO", "slos", "slo_form.html", "new-slo", "slos", ("slos",), "slo-",
    slo_form.values_of, slo_form.spec_of, slo_form.submitted, slo_form.pin,
    slo_form.pin_texts, {"choices": slo_form.CHOICES},
)  # fmt: skip


def form_page(
    fk: FormKind,
    session: Session,
    access: Access,
    current: views.Row | None,
    values: dict[str, Any],
    errors: forms.FieldErrors,
    status: int = 200,
    **more: Any,
) -> Response:
    return html(
        fk.template,
        status,
        session=session,
        cid=access.customer,
        tab=fk.tab,
        current=current,
        values=values,
        errors=errors,
        **fk.extra,
        **more,
    )


def done(cid: str, code: str, what: str, *parts: str) -> Response:
    query = urllib.parse.urlencode({"notice": code, "what": what})
    return redirect(f"{curl(cid, *parts)}?{query}")


def severity_of(request: Request, fk: FormKind) -> str | None:
    """`?severity=`: which alert of a warning/critical pair a page is about (render.alert_url
    builds the links); receivers have none."""
    return request.query_params.get("severity") if fk.kind == ALERT else None


def _write(
    console: Console,
    access: Access,
    fk: FormKind,
    spec: dict[str, Any],
    name: str | None,
    severity: str | None = None,
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Check, then create (`name` None) or replace: (the written object, problems)."""
    writes = console.writes
    wanted = str(spec.get(NAME_KEY[fk.kind], ""))
    if name is None:
        ref = ObjectRef(fk.kind, access.customer, object_name(access.customer, wanted or fk.noun))
    else:
        ref = console.ctx.lookup(fk.kind, access, name, severity=severity).ref
    try:
        if name is None:
            return crud.create(writes, access, fk.kind, spec), []
        return crud.update(writes, access, fk.kind, name, spec, severity=severity), []
    except Invalid as exc:
        return None, exc.problems
    except Conflict:
        noun = info(fk.kind).noun
        at = f" at severity {spec.get('severity')!r}" if fk.kind == ALERT else ""
        taken = Problem(
            f"spec.{NAME_KEY[fk.kind]}",
            f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} named {wanted!r}{at} already exists",
            f"choose another name{' or severity' if at else ''}, or edit that {noun}",
        )
        return None, [taken.at(ref)]


async def save(
    console: Console, fk: FormKind, request: Request, cid: str, name: str | None
) -> Response:
    """POST of the new form (`name` None) or of an object's edit form."""
    session, access = await run_in_threadpool(console.access, request, cid, name is not None)
    current, sev = None, severity_of(request, fk)
    if name is not None:
        find = partial(console.ctx.lookup, severity=sev)
        current = await run_in_threadpool(find, fk.kind, access, name)
    form = await read_form(request)
    check_csrf(session, form)
    spec, problems = fk.spec_of(form, name)
    out = None
    if not problems:
        out, problems = await run_in_threadpool(_write, console, access, fk, spec, name, sev)
    if problems or out is None:
        row = views.row(view(current)) if current is not None else None
        return form_page(fk, session, access, row, fk.submitted(form), fk.pin(problems), 422)
    out = await console.settle(out)
    written = str(out["spec"][NAME_KEY[fk.kind]])
    if out["status"]["phase"] == "Invalid":
        if fk.kind == ALERT:  # the page of exactly this alert, whether or not of a pair
            return redirect(alert_url(cid, views.row(out), pair=True))
        return redirect(curl(cid, fk.items, written))
    return done(cid, fk.notice + ("created" if name is None else "saved"), written, *fk.listing)


def add(api: APIRouter, console: Console) -> None:
    for fk in (ALERT_FORM, RECEIVER_FORM, RECORD_FORM, SLO_FORM):
        _add_kind(api, console, fk)


def _add_kind(api: APIRouter, console: Console, fk: FormKind) -> None:
    # Distinct endpoint names per kind keep FastAPI's operation ids unique.
    def new_form(request: Request, cid: str) -> Response:
        # known=False: an admin starts a customer with its first object.
        session, access = console.access(request, cid, known=False)
        return form_page(fk, session, access, None, fk.values_of(None), forms.FieldErrors())

    def edit_form(request: Request, cid: str, name: str) -> Response:
        name, sev = restore(name), severity_of(request, fk)
        session, access = console.access(request, cid)
        row = views.row(view(console.ctx.lookup(fk.kind, access, name, severity=sev)))
        if isinstance(row.spec.get("template"), dict):  # made from the catalogue: its form
            return redirect(curl(access.customer, fk.items, name, "template"))
        return form_page(
            fk,
            session,
            access,
            row,
            fk.values_of(row.spec),
            fk.pin_texts(row.valid_message),
            stored_invalid=True,
            notice=notice(request),
        )

    async def create(request: Request, cid: str) -> Response:
        return await save(console, fk, request, cid, None)

    async def update(request: Request, cid: str, name: str) -> Response:
        return await save(console, fk, request, cid, restore(name))

    async def delete(request: Request, cid: str, name: str) -> Response:
        name = restore(name)
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        gone = partial(crud.delete, severity=severity_of(request, fk))
        await run_in_threadpool(gone, console.writes, access, fk.kind, name)
        return done(cid, fk.notice + "deleted", name, *fk.listing)

    base = "/customers/{cid}"
    api.add_api_route(f"{base}/{fk.new}", new_form, methods=["GET"], name=f"new_{fk.noun}")
    api.add_api_route(f"{base}/{fk.new}", create, methods=["POST"], name=f"create_{fk.noun}")
    one = f"{base}/{fk.items}/{{name}}"
    api.add_api_route(one, edit_form, methods=["GET"], name=f"edit_{fk.noun}")
    api.add_api_route(one, update, methods=["POST"], name=f"update_{fk.noun}")
    api.add_api_route(f"{one}/delete", delete, methods=["POST"], name=f"delete_{fk.noun}")

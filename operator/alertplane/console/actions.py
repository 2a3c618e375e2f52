"""The console's forms (POST). Each checks the session's CSRF token, then calls the same
write functions as the REST API (`service.crud`, `service.customers`), audited with the token's
name as actor and source "console"."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, NotFound, ObjectRef, Problem
from ..model import TABLE, info
from ..service import crud, customers
from ..service.access import Access
from ..service.objects import ALERT, RECEIVER, restore, view
from . import forms, preview, views
from .editing import done
from .render import html, redirect, wants_fragment
from .session import (
    PATH,
    Session,
    check_csrf,
    check_signin_csrf,
    read_form,
    safe_next,
    sign_in,
    sign_out,
)
from .state import Console

ROLLBACK_KINDS = {k.kind: k.kind for k in TABLE}


def preview_defaults(console: Console, access: Access, alert: str | None) -> dict[str, str]:
    alerts = views.rows(crud.list_objects(console.ctx, access, ALERT))
    samples = views.alert_samples(alerts)
    chosen = alert if alert in samples else next(iter(samples), "")
    labels, notes = samples.get(chosen, ({"alertname": "Example"}, {"summary": "example"}))
    return {
        "alert": chosen,
        "email": "",
        "status": "firing",
        "labels": "\n".join(f"{k}={v}" for k, v in labels.items()),
        "annotations": "\n".join(f"{k}={v}" for k, v in notes.items()),
    }


def preview_response(
    console: Console,
    session: Session,
    access: Access,
    values: dict[str, str],
    parts: list[preview.Part] | None,
    problems: list[Problem],
    status: int = 200,
) -> Response:
    receivers = views.rows(crud.list_objects(console.ctx, access, RECEIVER))
    emails = [
        (f"{r.name}:{i}", f"{r.name} — e-mail to {', '.join(map(str, e.get('to') or []))}")
        for r in receivers
        for i, e in enumerate(r.spec.get("email") or [])
    ]
    alerts = [r.name for r in views.rows(crud.list_objects(console.ctx, access, ALERT))]
    return html(
        "preview.html",
        status,
        session=session,
        cid=access.customer,
        tab="preview",
        emails=emails,
        alerts=alerts,
        values=values,
        parts=parts,
        problems=[p.text() for p in problems],
    )


def add(api: APIRouter, console: Console) -> None:
    _add_session(api, console)
    _add_writes(api, console)
    _add_route_test(api, console)
    _add_preview(api, console)


def _add_session(api: APIRouter, console: Console) -> None:
    @api.post("/signin")
    async def signin(request: Request) -> Response:
        form = await read_form(request)
        check_signin_csrf(request, form)
        token = form.get("token", "").strip()
        who = console.tokens.lookup(token) if token else None
        if who is None:
            return html(
                "signin.html",
                401,
                csrf=form.get("csrf", ""),
                next=form.get("next", ""),
                error="That token is not valid. Check it and try again.",
                signed_out=False,
            )
        response = redirect(safe_next(form.get("next")))
        sign_in(response, request, token)
        return response

    @api.post("/signout")
    async def signout(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(console.session(request), form)
        response = redirect(f"{PATH}/signin?signedout=1")
        sign_out(response)
        return response


def _add_writes(api: APIRouter, console: Console) -> None:
    ctx, writes = console.ctx, console.writes

    @api.post("/customers/{cid}/alerts/{name}/enabled")
    async def toggle(request: Request, cid: str, name: str) -> Response:
        name, severity = restore(name), request.query_params.get("severity")
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        enabled = form.get("enabled") == "true"
        switch = partial(crud.set_enabled, severity=severity)  # one alert of a pair
        out = await run_in_threadpool(switch, writes, access, name, enabled)
        await console.settle(out)
        return done(cid, "enabled" if enabled else "disabled", name)

    @api.post("/customers/{cid}/audit/rollback")
    async def rollback(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        kind = ROLLBACK_KINDS.get(form.get("kind", ""))
        version = form.get("version", "")
        # ASCII and short: str.isdigit takes '²' for a digit and int() refuses it, or 5,000
        # digits (tests/adversarial/test_console_params.py).
        if kind is None or not (version.isascii() and version.isdigit() and len(version) < 19):
            raise NotFound("no such version")
        ref = ObjectRef(kind, form.get("namespace", ""), form.get("object", ""))
        # (ctx.bound may ask the API server for the namespaces: not in the event loop)
        stored = await run_in_threadpool(lambda: ctx.bound(access.customer).find(ref))
        if stored is None or stored.customer_id != access.customer:
            raise NotFound("no such object")
        spec_name = str(stored.spec.get(info(kind).name_field))
        # The object's own severity: the name alone may be a warning/critical pair.
        back = partial(crud.rollback, severity=stored.spec.get("severity"))
        await run_in_threadpool(back, writes, access, kind, spec_name, int(version))
        await console.settle(view(stored))
        what = f"{info(kind).noun.capitalize()} {spec_name} (to version {version})"
        return done(cid, "rolledback", what, "audit")


def _add_route_test(api: APIRouter, console: Console) -> None:
    ctx = console.ctx

    @api.post("/customers/{cid}/routing/test")
    async def route_test(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        labels, problems = forms.route_labels(form)
        result: dict[str, Any] | None = None
        if not problems:
            try:
                result = await run_in_threadpool(customers.route_test, ctx, access, labels)
            except Invalid as exc:
                problems = exc.problems
        test = {"result": result, "problems": [p.text() for p in problems]}
        status = 422 if problems else 200
        values = {k: form.get(k, "") for k in (*forms.ROUTE_KEYS, "labels")}
        if wants_fragment(request):
            return html("_route_test.html", status, session=session, cid=cid, test=test)
        rows = await run_in_threadpool(crud.list_objects, ctx, access, RECEIVER)
        return html(
            "receivers.html",
            status,
            session=session,
            cid=access.customer,
            tab="receivers",
            receivers=views.ordered_routes(views.rows(rows)),
            views=views,
            test=test,
            test_values=values,
            choices=forms.CHOICES,
        )


def _add_preview(api: APIRouter, console: Console) -> None:
    ctx = console.ctx

    @api.post("/customers/{cid}/preview")
    async def preview_render(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        values = {k: forms.clean(form.get(k, "")) for k in ("email", "status", "labels")}
        values["annotations"] = forms.clean(form.get("annotations", ""))
        values["alert"] = form.get("alert", "")
        labels, problems = forms.parse_pairs(values["labels"], "labels", "label")
        notes, more = forms.parse_pairs(values["annotations"], "annotations", "annotation")
        problems += more
        receiver_name, _, index = values["email"].rpartition(":")
        found = None
        if receiver_name and index.isascii() and index.isdigit() and len(index) < 19:  # as above
            found = await run_in_threadpool(
                lambda: ctx.reads(access).find_named(RECEIVER, cid, receiver_name)
            )
        emails = (found.spec.get("email") or []) if found is not None else []
        if found is None or int(index) >= len(emails):
            problems.append(Problem("email", "choose one of the e-mail configurations", ""))
        parts = None
        if not problems and found is not None:
            route = found.spec.get("route") or {}
            group_by = route.get("groupBy") or ctx.platform.alertmanager.route.group_by or []
            data = preview.sample_data(
                receiver=f"{access.customer}/{receiver_name}",
                labels={**labels, "customer_id": access.customer},
                annotations=notes,
                status="resolved" if values["status"] == "resolved" else "firing",
                group_by=[str(g) for g in group_by],
                external_url=ctx.alertmanager_url or "http://alertmanager.example",
            )
            parts = await run_in_threadpool(preview.render_email, emails[int(index)], data)
        status = 422 if problems else 200
        return await run_in_threadpool(
            preview_response, console, session, access, values, parts, problems, status
        )

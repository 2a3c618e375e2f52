"""The console's forms (POST). Each checks the session's CSRF token, then calls the same
write functions as the REST API (`api.crud`, `api.customers`), audited with the token's
name as actor and source "console"."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..api import crud, customers
from ..api.auth import Access
from ..api.errors import Conflict, Invalid, NotFound
from ..api.objects import ALERT, RECEIVER, build, object_name, view
from ..errors import ObjectRef, Problem, ToolError
from ..validate import Parsed, check_with_tools
from . import forms, preview, views
from .render import curl, html, redirect, wants_fragment
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

ROLLBACK_KINDS = {"CustomerAlert": ALERT, "CustomerReceiver": RECEIVER}


def done(cid: str, code: str, what: str, *parts: str) -> Response:
    query = urllib.parse.urlencode({"notice": code, "what": what})
    return redirect(f"{curl(cid, *parts)}?{query}")


def form_page(
    session: Session,
    access: Access,
    alert: views.Row | None,
    values: dict[str, str],
    problems: list[Problem],
) -> Response:
    return html(
        "alert_form.html",
        422,
        session=session,
        cid=access.customer,
        tab="alerts",
        alert=alert,
        values=values,
        errors=forms.pin(problems),
        choices=forms.CHOICES,
    )


def precheck(
    console: Console, access: Access, spec: dict[str, Any], ref: ObjectRef
) -> list[Problem]:
    """The core's checks, then promtool's (templates, expression), so a mistake is shown
    on the form instead of being stored and found Invalid a moment later."""
    obj, problems = build(ALERT, access.customer, spec, ref, platform=console.ctx.platform)
    if obj is None:
        return problems
    try:
        return check_with_tools([Parsed(obj)])
    except ToolError:
        return []  # the reconciler checks again before anything goes live


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
    ctx, writes = console.ctx, console.writes

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

    @api.post("/customers/{cid}/new-alert")
    async def create_alert(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid, False)
        form = await read_form(request)
        check_csrf(session, form)
        spec, problems = forms.spec_of(form)
        name = str(spec.get("alertName", ""))
        ref = ObjectRef(ALERT, access.customer, object_name(access.customer, name or "alert"))
        if not problems:
            problems = await run_in_threadpool(precheck, console, access, spec, ref)
        if not problems:
            try:
                out = await run_in_threadpool(crud.create, writes, access, ALERT, spec)
            except Invalid as exc:
                problems = exc.problems
            except Conflict:
                problems = [
                    Problem(
                        "spec.alertName",
                        f"an alert named {name!r} already exists",
                        "choose another name, or edit that alert",
                    ).at(ref)
                ]
        if problems:
            return form_page(session, access, None, forms.submitted(form), problems)
        out = await console.settle(out)
        if out["status"]["phase"] == "Invalid":
            return redirect(curl(cid, "alerts", out["spec"]["alertName"]))
        return done(cid, "created", out["spec"]["alertName"])

    @api.post("/customers/{cid}/alerts/{name}")
    async def update_alert(request: Request, cid: str, name: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        current = await run_in_threadpool(ctx.lookup, ALERT, access, name)
        form = await read_form(request)
        check_csrf(session, form)
        spec, problems = forms.spec_of(form, name=name)
        if not problems:
            problems = await run_in_threadpool(precheck, console, access, spec, current.ref)
        if not problems:
            try:
                out = await run_in_threadpool(crud.update, writes, access, ALERT, name, spec)
            except Invalid as exc:
                problems = exc.problems
        if problems:
            row = views.row(view(current))
            return form_page(session, access, row, forms.submitted(form), problems)
        out = await console.settle(out)
        if out["status"]["phase"] == "Invalid":
            return redirect(curl(cid, "alerts", name))
        return done(cid, "saved", name)

    @api.post("/customers/{cid}/alerts/{name}/enabled")
    async def toggle(request: Request, cid: str, name: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        enabled = form.get("enabled") == "true"
        out = await run_in_threadpool(crud.set_enabled, writes, access, name, enabled)
        await console.settle(out)
        return done(cid, "enabled" if enabled else "disabled", name)

    @api.post("/customers/{cid}/alerts/{name}/delete")
    async def delete(request: Request, cid: str, name: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        await run_in_threadpool(crud.delete, writes, access, ALERT, name)
        return done(cid, "deleted", name)

    @api.post("/customers/{cid}/audit/rollback")
    async def rollback(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid)
        form = await read_form(request)
        check_csrf(session, form)
        kind = ROLLBACK_KINDS.get(form.get("kind", ""))
        version = form.get("version", "")
        if kind is None or not version.isdigit():
            raise NotFound("no such version")
        ref = ObjectRef(kind, form.get("namespace", ""), form.get("object", ""))
        stored = await run_in_threadpool(ctx.store.find, ref)
        if stored is None or stored.row.customer_id != access.customer:
            raise NotFound("no such object")
        spec_name = str(stored.row.spec.get("alertName" if kind == ALERT else "receiverName"))
        await run_in_threadpool(crud.rollback, writes, access, kind, spec_name, int(version))
        await console.settle(view(stored))
        what = f"{'Alert' if kind == ALERT else 'Receiver'} {spec_name} (to version {version})"
        return done(cid, "rolledback", what, "audit")

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
        if receiver_name and index.isdigit():
            found = await run_in_threadpool(ctx.store.find_named, RECEIVER, cid, receiver_name)
        emails = (found.row.spec.get("email") or []) if found is not None else []
        if found is None or int(index) >= len(emails):
            problems.append(Problem("email", "choose one of the e-mail configurations", ""))
        parts = None
        if not problems and found is not None:
            route = found.row.spec.get("route") or {}
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

"""The console's pages (GET). Reads use the same functions as the REST API, with the same
access rule: a scoped token sees its customer only; any other customer is 404."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import NotFound, Unavailable, UpstreamFailed
from ..model.common import is_dns_label
from ..service import crud, customers
from ..service.access import Access
from ..service.objects import ALERT, RECEIVER, SLO, view
from . import (
    actions,
    alert_preview,
    board,
    editing,
    forms,
    import_page,
    record_form,
    slo_form,
    template_form,
    views,
)
from . import silences as silence_pages
from .render import HEADERS, ConsoleRoute, curl, html, notice, redirect
from .session import PATH, SIGNIN_COOKIE, Session, current, new_signin_nonce, set_cookie
from .state import Console

STATIC = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "board.css": "text/css",
    "board.js": "text/javascript",
}


def install(app: FastAPI, console: Console) -> None:
    """Mount the console under /console and send / there."""
    app.include_router(router(console))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)


def customer_page(
    template: str, session: Session, access: Access, tab: str, **values: Any
) -> Response:
    return html(template, session=session, cid=access.customer, tab=tab, **values)


def firing_state(console: Console, access: Access) -> tuple[list[dict[str, Any]], str]:
    try:
        return customers.firing(console.ctx, access, silenced=True, inhibited=True), ""
    except Unavailable:
        return [], views.NOT_CONFIGURED
    except UpstreamFailed:
        return [], views.UNREACHABLE


def router(console: Console) -> APIRouter:
    api = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)
    _add_front(api, console)
    _add_object_pages(api, console)
    _add_slo_pages(api, console)
    _add_customer_pages(api, console)
    editing.add(api, console)
    template_form.add(api, console)  # alerts from the platform's catalogue
    record_form.add_pages(api, console)
    actions.add(api, console)
    alert_preview.add(api, console)
    import_page.add(api, console)
    board.add(api, console)
    silence_pages.add(api, console)

    @api.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    def not_found(request: Request, rest: str) -> Response:
        # Unknown console pages, and known ones asked with the wrong method.
        raise NotFound("no such page")

    return api


def _add_front(api: APIRouter, console: Console) -> None:
    """The pages before a customer is chosen: overview, sign-in, static files, start."""
    ctx = console.ctx

    @api.get("")
    @api.get("/")
    def overview(request: Request) -> Response:
        session = console.session(request)
        who = session.principal
        known = customers.visible(ctx, who)
        items = customers.overview(ctx, who, known)
        for item in items:
            item["phaseList"] = views.phase_list(item["phases"])
        firing = views.firing_counts(ctx, known, who.customer)
        return html("overview.html", session=session, items=items, firing=firing)

    @api.get("/signin")
    def signin_form(request: Request) -> Response:
        if current(request, console.tokens) is not None:
            return redirect(f"{PATH}/")
        # One nonce per browser, so two open sign-in tabs both work.
        nonce = request.cookies.get(SIGNIN_COOKIE) or new_signin_nonce()
        response = html(
            "signin.html",
            csrf=nonce,
            next=request.query_params.get("next", ""),
            error="",
            signed_out=request.query_params.get("signedout") == "1",
        )
        set_cookie(response, request, SIGNIN_COOKIE, nonce, 3600)
        return response

    @api.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound("no such file")
        body = resources.files("alertplane.console").joinpath("static", name).read_bytes()
        headers = {**HEADERS, "Cache-Control": "public, max-age=300"}
        return Response(body, media_type=STATIC[name], headers=headers)

    @api.get("/start")
    def start(request: Request) -> Response:
        """An admin starts a customer by creating its first alert."""
        session = console.session(request)
        cid = request.query_params.get("customer", "").strip()
        if session.principal.customer is not None:
            cid = session.principal.customer
        if not is_dns_label(cid):
            items = customers.overview(ctx, session.principal, ctx.store.known_customers())
            message = "A customer id is a DNS label: lower-case letters, digits and '-'."
            return html(
                "overview.html",
                422,
                session=session,
                items=items,
                firing=views.Firing(None, ""),
                start_error=message,
            )
        return redirect(curl(cid, "new-alert"))


def _add_object_pages(api: APIRouter, console: Console) -> None:
    """A customer's alerts and receivers, and the fragments that refresh them."""
    ctx = console.ctx

    @api.get("/customers/{cid}")
    def alerts_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        alerts = views.rows(crud.list_objects(ctx, access, ALERT))
        return customer_page(
            "alerts.html", session, access, "alerts", alerts=alerts, notice=notice(request)
        )

    @api.get("/customers/{cid}/fragments/alerts")
    def alerts_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        alerts = views.rows(crud.list_objects(ctx, access, ALERT))
        return customer_page("_alerts_table.html", session, access, "alerts", alerts=alerts)

    @api.get("/customers/{cid}/receivers")
    def receivers_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        receivers = views.ordered_routes(views.rows(crud.list_objects(ctx, access, RECEIVER)))
        return customer_page(
            "receivers.html",
            session,
            access,
            "receivers",
            receivers=receivers,
            views=views,
            test=None,
            test_values={},
            choices=forms.CHOICES,
            notice=notice(request),
        )

    @api.get("/customers/{cid}/fragments/receivers")
    def receivers_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        receivers = views.ordered_routes(views.rows(crud.list_objects(ctx, access, RECEIVER)))
        return customer_page(
            "_receivers_table.html", session, access, "receivers", receivers=receivers, views=views
        )


def _add_slo_pages(api: APIRouter, console: Console) -> None:
    """A customer's SLOs, and the fragment that refreshes them."""
    ctx = console.ctx

    def page(request: Request, cid: str, template: str) -> Response:
        session, access = console.access(request, cid)
        slos = views.rows(crud.list_objects(ctx, access, SLO))
        more = {"notice": notice(request)} if template == "slos.html" else {}
        return customer_page(
            template, session, access, "slos", slos=slos, slo_budget=slo_form.budget_text, **more
        )

    @api.get("/customers/{cid}/slos")
    def slos_page(request: Request, cid: str) -> Response:
        return page(request, cid, "slos.html")

    @api.get("/customers/{cid}/fragments/slos")
    def slos_fragment(request: Request, cid: str) -> Response:
        return page(request, cid, "_slos_table.html")


def _add_customer_pages(api: APIRouter, console: Console) -> None:
    """A customer's firing alerts, status, audit trail and e-mail preview."""
    ctx = console.ctx

    @api.get("/customers/{cid}/firing")
    def firing_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        items, problem = firing_state(console, access)
        return customer_page(
            "firing.html", session, access, "firing", firing=items, problem=problem
        )

    @api.get("/customers/{cid}/fragments/firing")
    def firing_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        items, problem = firing_state(console, access)
        return customer_page(
            "_firing_table.html", session, access, "firing", firing=items, problem=problem
        )

    @api.get("/customers/{cid}/status")
    def status_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        objects = [view(s) for s in ctx.reads(access).get(customer=access.customer)]
        items = sorted(views.rows(objects), key=lambda r: (r.kind, r.name.lower()))
        return customer_page("status.html", session, access, "status", objects=items)

    @api.get("/customers/{cid}/audit")
    def audit_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        name = request.query_params.get("name") or None
        if name is not None and len(name) > 253:
            name = None
        items = crud.audit(ctx, access, name, limit=200)
        current = ctx.reads(access).get(customer=access.customer)
        current_rows = views.rows([view(s) for s in current])
        entries = views.audit_entries(items, current_rows)
        return customer_page(
            "audit.html",
            session,
            access,
            "audit",
            entries=entries,
            name=name or "",
            notice=notice(request),
        )

    @api.get("/customers/{cid}/preview")
    def preview_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        values = actions.preview_defaults(console, access, request.query_params.get("alert"))
        return actions.preview_response(console, session, access, values, None, [])

"""HTML responses: the Jinja2 environment, security headers, and error pages.

Every console route runs inside `ConsoleRoute`, which turns any failure into an HTML page
with a plain message (sign-in redirect, 403, 404, 503, ...), never a traceback.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import AlertplaneError, Refused, ToolError
from ..http_status import status_of
from ..service.objects import alert_path, segment
from .session import PATH, BadForm, CsrfFailed, Session, SignedOut

log = logging.getLogger("alertplane.console")

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("alertplane.console", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals["version"] = __version__
ENV.globals["PATH"] = PATH

# Inline styles only for the e-mail HTML shown in the sandboxed preview frame (which
# inherits this policy); no inline scripts anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FRAGMENT_HEADER = "x-console-fragment"


def quote(part: str) -> str:
    return segment(part)


def curl(customer: str, *parts: str) -> str:
    """URL of a customer page: curl("acme", "alerts", "HighErrorRate")."""
    return "/".join([f"{PATH}/customers/{quote(customer)}", *(quote(p) for p in parts)])


def alert_url(customer: str, row: Any, *tail: str, pair: bool | None = None) -> str:
    """URL of an alert's console page (or its `tail` action): one alert of a warning/
    critical pair carries `?severity=` (`row.pair`, or `pair` when the caller knows)."""
    is_pair = row.pair if pair is None else pair
    severity = row.spec.get("severity")
    return PATH + alert_path(quote(customer), row.name, severity, is_pair, *tail)


ENV.globals["curl"] = curl
ENV.globals["alert_url"] = alert_url
ENV.filters["q"] = quote


NOTICES = {
    "created": "Alert {what} created.",
    "saved": "Alert {what} saved.",
    "enabled": "Alert {what} enabled.",
    "disabled": "Alert {what} disabled.",
    "deleted": "Alert {what} deleted.",
    "receiver-created": "Receiver {what} created.",
    "receiver-saved": "Receiver {what} saved.",
    "receiver-deleted": "Receiver {what} deleted.",
    "slo-created": "SLO {what} created.",
    "slo-saved": "SLO {what} saved.",
    "slo-deleted": "SLO {what} deleted.",
    "record-created": "Recording rule {what} created.",
    "record-saved": "Recording rule {what} saved.",
    "record-deleted": "Recording rule {what} deleted.",
    "rolledback": "{what} rolled back.",
    "imported": "{what} imported.",
}


def notice(request: Request) -> str:
    """The line confirming what the previous form did (`?notice=created&what=X`)."""
    code = request.query_params.get("notice", "")
    what = request.query_params.get("what", "")[:300]
    return NOTICES[code].format(what=what) if code in NOTICES else ""


def wants_fragment(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def html(
    template: str,
    status: int = 200,
    session: Session | None = None,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    body = ENV.get_template(template).render(session=session, **values)
    # A lone surrogate an older alertplane stored cannot be UTF-8: a character reference
    # (shown as U+FFFD) instead of a failed page.
    encoded = body.encode("utf-8", "xmlcharrefreplace")
    return HTMLResponse(encoded, status_code=status, headers={**HEADERS, **(headers or {})})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


TITLES = {
    400: "Bad request",
    401: "Signed out",
    403: "Not allowed",
    404: "Not found",
    405: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    500: "Something went wrong",
    502: "Alertmanager unreachable",
    503: "Unavailable",
}


def error_page(
    status: int, message: str, session: Session | None = None, fragment: bool = False
) -> HTMLResponse:
    title = TITLES.get(status, "Error")
    if fragment:
        return html("_error.html", status, session, title=title, message=message)
    return html("error.html", status, session, title=title, message=message)


def _signin_redirect(request: Request) -> Response:
    if wants_fragment(request) or request.method != "GET":
        return error_page(401, "Your session has ended: sign in again.", fragment=True)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PATH}/signin?" + urllib.parse.urlencode({"next": target}))


def failure_response(request: Request, exc: Exception) -> Response:
    """The page for an exception a console route raised."""
    session = getattr(request.state, "session", None)
    fragment = wants_fragment(request)
    if isinstance(exc, SignedOut):
        return _signin_redirect(request)
    if isinstance(exc, CsrfFailed):
        message = (
            "This form has expired or did not come from this console. "
            "Reload the page and try again."
        )
        return error_page(403, message, session, fragment)
    if isinstance(exc, BadForm):
        return error_page(400, str(exc), session, fragment)
    if isinstance(exc, Refused):
        status = status_of(exc)
        if status == 401:
            return _signin_redirect(request)
        # Details of 404s stay generic: a page of another customer reads exactly like
        # one that does not exist, and names nothing.
        message = "There is nothing here, or it is not yours to see." if status == 404 else ""
        if not message:
            message = exc.detail + "".join(f" {p.text()}" for p in exc.problems)
        return error_page(status, message, session, fragment)
    if isinstance(exc, RequestValidationError):
        return error_page(404, "There is nothing here.", session, fragment)
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code if 400 <= exc.status_code < 600 else 500
        return error_page(status, str(exc.detail), session, fragment)
    if isinstance(exc, IntegrityError):
        return error_page(409, "Someone changed this at the same time; retry.", session, fragment)
    if isinstance(exc, OperationalError):
        log.error("database error: %s", exc.orig)
        return error_page(503, "The database is unavailable; retry later.", session, fragment)
    if isinstance(exc, ToolError | AlertplaneError):
        log.error("console request failed: %s", exc)
        return error_page(500, str(exc), session, fragment)
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_page(500, "Internal error; the server log has the details.", session, fragment)


class ConsoleRoute(APIRoute):
    """An APIRoute whose every exception becomes an HTML page (see `failure_response`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except Exception as exc:  # every failure becomes a page
                try:
                    return failure_response(request, exc)
                except Exception:
                    log.exception("the error page itself failed")
                    return HTMLResponse(
                        "<!doctype html><title>Error</title><p>Internal error.</p>",
                        status_code=500,
                        headers=HEADERS,
                    )
            for key, value in HEADERS.items():
                response.headers.setdefault(key, value)
            return response

        return handler

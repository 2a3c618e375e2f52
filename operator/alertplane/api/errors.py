"""HTTP errors of the API and the handlers that turn every failure into a clean JSON body.

Invalid input is answered with the same problems `alertplane validate` prints (field
path, message, hint, and the full line as `text`). Nothing ever answers with a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    AlertplaneError,
    Conflict,
    Invalid,
    Problem,
    Refused,
    Unauthenticated,
    UpstreamFailed,
    UsageError,
)
from ..http_status import STATUS as STATUS  # re-exported: the API's table, shared
from ..http_status import headers_of, status_of
from ..validate.schema import loc_path
from .responses import JSONResponse

log = logging.getLogger("alertplane.api")

# The domain's refusals (errors.py) are the API's errors: one tree for every door. Their
# HTTP status codes are one table (http_status.py) that the console shares; re-exported.
ApiError = Refused
Unauthorized = Unauthenticated
BadGateway = UpstreamFailed


def body_of(exc: Refused) -> dict[str, Any]:
    out: dict[str, Any] = {"detail": exc.detail}
    if exc.problems or isinstance(exc, Invalid):
        out["problems"] = problem_list(exc.problems)
    return out


def answer(exc: Refused) -> JSONResponse:
    """The HTTP answer to a refusal: its status code, body and headers."""
    return JSONResponse(body_of(exc), status_code=status_of(exc), headers=headers_of(exc))


def problem_view(p: Problem) -> dict[str, str]:
    # `text`: the line `alertplane validate` prints (with where the field is, when known)
    out = {"path": p.path, "message": p.message, "hint": p.hint, "text": p.located()}
    if p.where:  # a YAML body's problem: `body:line:column` of its field
        out["where"] = p.where
    return out


def problem_list(problems: Sequence[Problem]) -> list[dict[str, str]]:
    return [problem_view(p) for p in problems]


def _request_problems(exc: RequestValidationError) -> list[Problem]:
    """FastAPI's own checks (malformed JSON, small request bodies, query parameters)."""
    out = []
    for err in exc.errors():
        loc = [part for part in err.get("loc", ()) if isinstance(part, str | int)]
        where = loc[0] if loc else ""
        path = loc_path(loc[1:]) if where == "body" else loc_path(loc)
        kind = str(err.get("type", ""))
        if kind == "json_invalid":
            out.append(Problem("", "the body is not valid JSON", "send a JSON document"))
        elif kind == "missing":
            out.append(Problem(path or str(where), "required", "add it"))
        else:
            # pydantic's message, never the input value (it may be anything).
            out.append(Problem(path or str(where), str(err.get("msg", "invalid")), ""))
    return out


PreCheck = Callable[[Request], Awaitable[None]]


def install_handlers(app: FastAPI, precheck: PreCheck) -> None:
    """`precheck` re-runs authentication and the customer check for requests FastAPI
    rejected before any dependency ran (a body that is not JSON), so an unauthenticated
    or foreign request still gets its 401/404 rather than a 422."""

    @app.exception_handler(Refused)
    async def api_error(_: Request, exc: Refused) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            await precheck(request)
        except Refused as first:
            return answer(first)
        return answer(Invalid(_request_problems(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 400:
            return await http_exception_handler(request, exc)
        # FastAPI's "There was an error parsing the body" (e.g. JSON that is not UTF-8):
        # invalid input like any other, reported after authentication.
        try:
            await precheck(request)
        except Refused as first:
            return answer(first)
        problem = Problem("", "the body could not be parsed", "send UTF-8 JSON")
        return answer(Invalid([problem]))

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced for the same object identity; the loser is told so.
        log.info("write conflict: %s", exc.orig)
        return answer(Conflict("the object was created concurrently; retry"))

    @app.exception_handler(OperationalError)
    async def db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503)

    @app.exception_handler(UsageError)
    async def usage(_: Request, exc: UsageError) -> JSONResponse:
        return answer(Invalid([Problem("", str(exc))]))

    @app.exception_handler(AlertplaneError)
    async def failure(_: Request, exc: AlertplaneError) -> JSONResponse:
        log.error("request failed: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "internal error; the server log has the details"}, status_code=500
        )

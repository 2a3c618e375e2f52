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

from ..errors import AlertplaneError, Problem, UsageError
from ..validate.schema import loc_path
from .responses import JSONResponse

log = logging.getLogger("alertplane.api")

NOT_FOUND_CUSTOMER = "customer not found"


class ApiError(Exception):
    status = 500

    def __init__(
        self, detail: str, problems: Sequence[Problem] = (), headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems)
        self.headers = headers

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.problems or self.status == 422:
            out["problems"] = problem_list(self.problems)
        return out


class Unauthorized(ApiError):
    status = 401

    def __init__(self) -> None:
        super().__init__("missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PreconditionFailed(ApiError):
    """If-Match named another generation than the object's: nothing was written."""

    status = 412


class Invalid(ApiError):
    status = 422

    def __init__(self, problems: Sequence[Problem], detail: str = "") -> None:
        n = len(problems)
        super().__init__(detail or f"{n} problem{'s' if n != 1 else ''}", problems)


class TooLarge(ApiError):
    status = 413


class Unavailable(ApiError):
    status = 503


class BadGateway(ApiError):
    status = 502


def problem_view(p: Problem) -> dict[str, str]:
    return {"path": p.path, "message": p.message, "hint": p.hint, "text": str(p)}


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

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            await precheck(request)
        except ApiError as first:
            return JSONResponse(first.body(), status_code=first.status, headers=first.headers)
        return JSONResponse(Invalid(_request_problems(exc)).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 400:
            return await http_exception_handler(request, exc)
        # FastAPI's "There was an error parsing the body" (e.g. JSON that is not UTF-8):
        # invalid input like any other, reported after authentication.
        try:
            await precheck(request)
        except ApiError as first:
            return JSONResponse(first.body(), status_code=first.status, headers=first.headers)
        problem = Problem("", "the body could not be parsed", "send UTF-8 JSON")
        return JSONResponse(Invalid([problem]).body(), status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two writers raced for the same object identity; the loser is told so.
        log.info("write conflict: %s", exc.orig)
        body = Conflict("the object was created concurrently; retry").body()
        return JSONResponse(body, status_code=409)

    @app.exception_handler(OperationalError)
    async def db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503)

    @app.exception_handler(UsageError)
    async def usage(_: Request, exc: UsageError) -> JSONResponse:
        return JSONResponse(Invalid([Problem("", str(exc))]).body(), status_code=422)

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

"""The HTTP status code of each refusal, shared by the two HTTP doors.

The domain's refusals (errors.py) carry no transport details; the REST API (api/errors.py,
which re-exports this table) and the web console (console/render.py, its error pages)
answer each with the status code below, so both doors say 404 or 409 alike. A leaf module
so that neither door imports the other.
"""

from __future__ import annotations

from .errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    Refused,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UpstreamFailed,
)

STATUS: dict[type[Refused], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    TooLarge: 413,
    Invalid: 422,
    UpstreamFailed: 502,
    Unavailable: 503,
}


def status_of(exc: Refused) -> int:
    """The code of the refusal's nearest class in the table; 500 for one it lacks."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def headers_of(exc: Refused) -> dict[str, str] | None:
    """What HTTP says beside the code: how to authenticate, the current ETag."""
    if isinstance(exc, Unauthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, PreconditionFailed) and exc.current_generation is not None:
        return {"ETag": f'"{exc.current_generation}"'}
    return None

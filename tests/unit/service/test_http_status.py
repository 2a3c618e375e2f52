"""One table of HTTP status codes for the two HTTP doors (the API and the console)."""

from __future__ import annotations

from alertplane.api import errors as api_errors
from alertplane.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionFailed,
    Refused,
    Unauthenticated,
    UpstreamFailed,
)
from alertplane.http_status import STATUS, headers_of, status_of


def test_each_refusal_has_its_code_and_unknown_ones_are_500() -> None:
    assert status_of(NotFound("x")) == 404
    assert status_of(Invalid([])) == 422
    assert status_of(UpstreamFailed("x")) == 502
    assert status_of(Refused("x")) == 500
    assert api_errors.STATUS is STATUS  # the API answers from the same table


def test_headers_say_how_to_authenticate_and_which_generation_is_current() -> None:
    assert headers_of(Unauthenticated()) == {"WWW-Authenticate": "Bearer"}
    assert headers_of(PreconditionFailed("x", current_generation=3)) == {"ETag": '"3"'}
    assert headers_of(Conflict("x")) is None

"""Preconditions: optimistic concurrency on one object, its generation as the version.

A write may name the generation it was computed from (`expected`: the REST API's
If-Match, api/etags.py); it happens only if the object is still at that generation (else
PreconditionFailed and nothing written); `EXISTS` only if it exists. A write without one
applies to the newest generation, atomically (store/txn.py): it never overwrites a
change it did not see with one computed from an older read.
"""

from __future__ import annotations

from ..errors import Conflict, NotFound, PreconditionFailed, Problem, Refused
from ..store.txn import ABSENT, Stale

HEADER = "If-Match"  # where a precondition comes from, the path of its problem
HINT = (
    "read it again (GET: its ETag header), apply your change to that version and send its "
    "ETag as If-Match; without If-Match a write applies to the newest generation"
)
MALFORMED = -2  # a precondition that is no generation of ours: matches no object


def refusal(what: str, name: str, exc: Stale) -> Refused:
    """The answer to a write the store refused because the object was not as expected."""
    if exc.actual is None:
        return NotFound(f"{what} not found")
    if exc.expected == ABSENT:
        return Conflict(f"{what} {name!r} already exists; change it with PUT")
    if exc.expected == MALFORMED:
        message = (
            f"not an ETag of this API (one generation, or *); {what} {name!r} is at "
            f"generation {exc.actual}"
        )
    else:
        message = f"{what} {name!r} is at generation {exc.actual}, not {exc.expected}"
    problem = Problem(HEADER, message, HINT)
    return PreconditionFailed(
        "precondition failed: the object was changed meanwhile; nothing written",
        [problem],
        current_generation=exc.actual,
    )

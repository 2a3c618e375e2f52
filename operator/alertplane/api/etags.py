"""ETag and If-Match: optimistic concurrency on one object, its generation as the version.

Every answer that shows one object carries `ETag: "<metadata.generation>"`. A write with
`If-Match: "<generation>"` happens only if the object is still at that generation (else
412 and nothing written); `If-Match: *` only if it exists. A write without If-Match
applies to the newest generation, atomically (store/txn.py): it never overwrites a
change it did not see with one computed from an older read.
"""

from __future__ import annotations

import re

from ..errors import Conflict, NotFound, PreconditionFailed, Problem, Refused
from ..store.txn import ABSENT, EXISTS, Stale

HEADER = "If-Match"
DESCRIPTION = (
    'Write only if the object is at this generation (the ETag a GET answered, e.g. "3"; '
    "* : if it exists); else 412 and nothing is written. Without it the write applies to "
    "the newest generation."
)
HINT = (
    "read it again (GET: its ETag header), apply your change to that version and send its "
    "ETag as If-Match; without If-Match a write applies to the newest generation"
)
MALFORMED = -2  # an If-Match that is no ETag of ours: matches no object
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')


def etag(generation: int) -> str:
    return f'"{generation}"'


def expected_of(value: str | None) -> int | None:
    """The generation an If-Match header asks for (txn.EXISTS for *; MALFORMED, which no
    object matches, for anything else), None without one. Checked after the request's
    other checks, as HTTP orders them: an invalid body is 422 whatever If-Match says."""
    if value is None:
        return None
    value = value.strip()
    if value == "*":
        return EXISTS
    found = _ETAG.match(value)
    if found is None or int(found.group(1)) < 1:
        return MALFORMED
    return int(found.group(1))


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

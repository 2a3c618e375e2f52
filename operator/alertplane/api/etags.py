"""ETag and If-Match: the HTTP spelling of a write's precondition (service/preconditions.py).

Every answer that shows one object carries `ETag: "<metadata.generation>"`. A write with
`If-Match: "<generation>"` happens only if the object is still at that generation (else
412 and nothing written); `If-Match: *` only if it exists.
"""

from __future__ import annotations

import re

from ..service.preconditions import HEADER, MALFORMED
from ..store.txn import EXISTS

__all__ = ["DESCRIPTION", "HEADER", "etag", "expected_of"]

DESCRIPTION = (
    'Write only if the object is at this generation (the ETag a GET answered, e.g. "3"; '
    "* : if it exists); else 412 and nothing is written. Without it the write applies to "
    "the newest generation."
)
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

"""Reading another server's answer within a deadline and a size cap.

`urlopen(url, timeout=t)` bounds each socket operation, not the answer: a server that
sends a byte every t - 1 seconds (half-dead, overloaded, hostile) holds the caller for as
long as it likes, and `resp.read()` takes a body of any size into memory before it is
parsed. The firing view asks every Alertmanager replica per request, the reconciler asks
every target per pass: one such server must cost its deadline, not a request or a pass.
"""

from __future__ import annotations

import time
from typing import Any

MAX_ANSWER_BYTES = 256 << 20  # Prometheus' /api/v1/rules at 100,000 rules is ~100 MB
_CHUNK = 1 << 16


class AnswerTooSlow(OSError):
    """The answer did not arrive whole within the deadline."""


class AnswerTooLarge(ValueError):
    """The answer is larger than the cap."""


def read_answer(resp: Any, deadline: float, limit: int | None = None) -> bytes:
    """`resp`'s body, read by chunks until `deadline` (time.monotonic) and `limit` bytes
    (MAX_ANSWER_BYTES): AnswerTooSlow / AnswerTooLarge past either."""
    cap = MAX_ANSWER_BYTES if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise AnswerTooSlow("the answer did not arrive within its deadline")
        _shorten(resp, deadline)
        chunk = resp.read1(_CHUNK) if hasattr(resp, "read1") else resp.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise AnswerTooLarge(f"the answer is larger than {cap >> 20} MiB")
        chunks.append(chunk)


def _shorten(resp: Any, deadline: float) -> None:
    """The socket's timeout cut to what is left, so one read cannot overrun the deadline
    by a whole timeout (http.client keeps the socket at resp.fp.raw._sock)."""
    sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(max(0.001, deadline - time.monotonic()))


def get(url: str, timeout_s: float, limit: int | None = None) -> bytes:
    """GET `url`'s body, all of it within `timeout_s` (connecting included)."""
    import urllib.request  # here: render/validate import no HTTP client (sinks/reload.py)

    deadline = time.monotonic() + timeout_s
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return read_answer(resp, deadline, limit)

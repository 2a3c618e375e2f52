"""Talking to Grafana Mimir's HTTP API as one tenant (`X-Scope-OrgID`).

Mimir trusts the header: whoever reaches its API can act as any tenant. So alertplane is
meant to reach it through an authenticating gateway (docs/mimir.md), and sends the bearer
token of `--mimir-token-file` when given (read on every request: a rotated token is used at
once, and it is never kept in memory longer than a request, logged or shown).

Under CPU starvation Mimir answers reads (and writes) with transient 5xx; those and
connection errors are retried with backoff, 4xx are answers (a refusal, or nothing there).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import SinkError

# A hung Mimir costs a pass at most ~5 × 10 s before it is WriteFailed and retried later;
# Mimir answers these small requests in milliseconds when healthy, seconds when starved.
# The socket timeout bounds each wait for a byte only: an answer trickling a byte at a
# time would never trip it, so a whole answer also has DEADLINE × TIMEOUT_S.
ATTEMPTS, BACKOFF_S, TIMEOUT_S, DEADLINE = 5, 0.2, 10.0, 3
MAX_ANSWER = 64 * 1024 * 1024  # a tenant's rules API answer at 1,400 rules is ~2 MB


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


class MimirUnavailable(SinkError):
    """Mimir did not answer (or answered 5xx) after every attempt."""


class MimirClient:
    def __init__(self, base_url: str, token_file: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.token_file = token_file

    def _headers(self, tenant: str | None, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json, application/yaml"}
        if tenant is not None:
            headers["X-Scope-OrgID"] = tenant
        if body:
            headers["Content-Type"] = "application/yaml"
        if self.token_file:
            try:
                token = Path(self.token_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise SinkError(f"cannot read --mimir-token-file: {why}") from None
            # http.client refuses a header with a line break quoting its value (the token)
            # in the error: say what is wrong without it.
            if not token or not token.isprintable():
                raise SinkError(
                    f"--mimir-token-file {self.token_file} must hold one token on one line; "
                    f"it holds {'none' if not token else 'several lines or control characters'}"
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def call(self, method: str, path: str, tenant: str | None, body: str | None = None) -> Answer:
        """One request, retried on 5xx and connection errors; the answer of the last try.
        Raises MimirUnavailable when every attempt failed that way."""
        url = self.base + path
        data = None if body is None else body.encode("utf-8")
        why = ""
        for attempt in range(1, ATTEMPTS + 1):
            req = urllib.request.Request(
                url, data=data, method=method, headers=self._headers(tenant, data is not None)
            )
            try:
                deadline = time.monotonic() + DEADLINE * TIMEOUT_S
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    return Answer(resp.status, _text(_body(resp, deadline)))
            except urllib.error.HTTPError as exc:
                text = _text(_body(exc, deadline))
                if exc.code < 500:
                    return Answer(exc.code, text)
                why = f"HTTP {exc.code}: {' '.join(text.split())[:500]}"
            except _Slow:
                why = f"did not finish answering within {DEADLINE * TIMEOUT_S:.0f} s"
            except (urllib.error.URLError, OSError) as exc:
                why = str(getattr(exc, "reason", exc))
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        raise MimirUnavailable(f"Mimir at {self.base}: {method} {path}: {why}")


def said(text: str, limit: int = 500) -> str:
    """Mimir's words for a status or a log line: one line, bounded (an answer may be
    megabytes: a status has to fit a database row and a Kubernetes status patch)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]}… ({len(flat)} characters)"


def json_object(answer: Answer, what: str) -> dict[str, Any]:
    """A 200's JSON object; a gateway's login page or another service's answer (200 all
    the same) is a SinkError saying what came back, not a traceback out of the pass."""
    try:
        data = json.loads(answer.text)
    except ValueError:
        data = None
        if not answer.text.strip():
            raise SinkError(f"{what} answered an empty body, not JSON") from None
    if not isinstance(data, dict):
        raise SinkError(
            f"{what} answered something not JSON of Mimir's shape: {said(answer.text, 200)}; "
            "is the URL Mimir's (not a login page of the gateway in front)?"
        )
    return data


def quoted(segment: str) -> str:
    """One path segment (a namespace or group name), escaped as Mimir's router reads it."""
    return urllib.parse.quote(segment, safe="")


class _Slow(Exception):
    """An answer still arriving at its deadline."""


def _body(resp: Any, deadline: float) -> bytes:
    """At most MAX_ANSWER bytes of the answer, read as they arrive (read1: a plain read
    waits for all it asked for), given up on at `deadline`."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_ANSWER:
        if time.monotonic() > deadline:
            raise _Slow()
        chunk = resp.read1(min(65536, MAX_ANSWER - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")

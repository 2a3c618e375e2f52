"""Object names with any character in a URL path segment (`/alerts/Disk%20%3E%2090%25`).

An alert name is any text (Prometheus' alertname is a label value): `a/b` and `100%` are
names. The server decodes the path before routing, so `a%2Fb` would become two segments
and never reach `/alerts/{alertName}`, and a name sent as `100%25` could not be told from
one sent as `100%`. This middleware decodes every escape of the raw path except `%2F` and
`%25`, which stay escaped until `restore` (service/objects.py; the console uses it too)
turns the matched segment back into the name: so every name has exactly one spelling in
a path, `segment(name)`.

`alert_path(customer, alert_name, severity, is_pair)` is the one builder of links to an
alert (API Location headers, console, board): one alert of a warning/critical pair is
addressed with `?severity=` (service/objects.pick answers 409 without it).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from ..service.objects import alert_path, restore, segment

__all__ = ["KeepEscapedSlashes", "alert_path", "restore", "segment"]
_KEPT = re.compile(rb"%(?:2[fF]|25)")


def _decode(raw: bytes) -> str:
    """The path as the server decodes it (ASCII, then UTF-8 escapes), `%2F`/`%25` kept."""
    parts = []
    at = 0
    for kept in _KEPT.finditer(raw):
        parts.append(unquote(raw[at : kept.start()].decode("ascii", "replace")))
        parts.append(kept.group().decode("ascii").upper())
        at = kept.end()
    parts.append(unquote(raw[at:].decode("ascii", "replace")))
    return "".join(parts)


class KeepEscapedSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw and _KEPT.search(raw.split(b"?", 1)[0]):
            scope = dict(scope)
            scope["path"] = _decode(raw.split(b"?", 1)[0])
        await self.app(scope, receive, send)

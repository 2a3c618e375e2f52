"""Every request body is bounded while it is read, before any route sees it.

Starlette's `request.body()` (and FastAPI's JSON parameters) read the whole body into
memory, however long: a chunked upload has no Content-Length to check first. This ASGI
middleware reads the body itself, answers 413 as soon as it passes the limit (at once
when Content-Length already says so), and hands the routes the body it read.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Problem, TooLarge
from ..http_status import status_of
from .errors import body_of


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the body is larger than {limit} bytes",
        [Problem("", f"the body is larger than {limit} bytes", "send fewer objects per request")],
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, send: Send) -> None:
        error = too_large(self.limit)
        payload = json.dumps(body_of(error)).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status_of(error),
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` that answers `first` once, then waits on the real one (a disconnect)."""
    pending: list[Message] = [first]

    async def replay() -> Any:
        if pending:
            return pending.pop()
        return await receive()

    return replay

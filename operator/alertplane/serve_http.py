"""The HTTP server of `serve` and of each of its API worker processes (workers.py):
uvicorn on a socket bound before anything slow, without uvicorn's own signal handling,
and the gate that answers 503 until the database is migrated."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any, Protocol

import uvicorn
from fastapi.responses import JSONResponse

from .lifecycle import Shutdown

# Paths that answer while the database is still being waited for.
ALWAYS_OPEN = ("/healthz", "/readyz", "/metrics")

Scope = MutableMapping[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]


class Flag(Protocol):
    """A threading.Event, or a multiprocessing one shared with the API workers."""

    def is_set(self) -> bool: ...


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: lifecycle.Shutdown handles SIGTERM and
    SIGINT for the whole process (uvicorn re-raises SIGTERM after stopping, which kills
    the process before the reconciler and the database are closed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run_http(app: Asgi, sock: socket.socket, shutdown: Shutdown) -> None:
    config = uvicorn.Config(
        app,
        log_level="warning",
        # Requests still running get half the grace period; the rest is for the reconciler.
        timeout_graceful_shutdown=max(1, int(shutdown.grace_s / 2)),
    )
    server = _Server(config)

    def stop_http() -> None:
        server.should_exit = True

    shutdown.on_request(stop_http)
    server.run(sockets=[sock])


def gated(app: Asgi, ready: Flag) -> Asgi:
    """503 for the API and console until the database is there and migrated (the tables
    of a fresh PostgreSQL database do not exist before that)."""

    async def gate(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not ready.is_set() and scope["path"] not in ALWAYS_OPEN:
            answer = JSONResponse(
                {"detail": "database unavailable; retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
            await answer(scope, receive, send)
            return
        await app(scope, receive, send)

    return gate

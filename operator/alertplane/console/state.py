"""What console routes share: the API's context (store, writer, tokens), a twin of it
whose writes are recorded with source "console", access checks, and a short wait for the
reconciler's verdict after a write."""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..errors import ObjectRef
from ..service.access import Access, access
from ..service.context import Context
from ..service.objects import settled, view
from .session import Session, require

SOURCE = "console"
SETTLE_S = 3.0


class Console:
    def __init__(self, ctx: Context, settle_s: float = SETTLE_S) -> None:
        self.ctx = ctx  # reads, exactly as the API does them
        self.writes = ctx.sourced(SOURCE)
        self.settle_s = settle_s

    @property
    def tokens(self) -> Any:
        return self.ctx.settings.tokens

    def session(self, request: Request) -> Session:
        found = require(request, self.ctx.settings.tokens)
        request.state.session = found
        return found

    def access(self, request: Request, customer: str, known: bool = True) -> tuple[Session, Access]:
        """The session and its access to `customer`; another customer's pages are 404
        like a customer that does not exist (`known`: admins too get 404 for customers
        without objects or history)."""
        found = self.session(request)
        allowed = access(found.principal, customer)
        if known:
            self.ctx.require_known(allowed)
        return found, allowed

    async def settle(self, out: dict[str, Any]) -> dict[str, Any]:
        """The written object once the reconciler concluded (Synced, Invalid, ...), or as
        it is after a few seconds; the page shows Pending and refreshes itself then."""
        ref = ObjectRef(out["kind"], out["metadata"]["namespace"], out["metadata"]["name"])
        deadline = time.monotonic() + self.settle_s
        pause = 0.02
        while True:
            current = await run_in_threadpool(self.ctx.store.find, ref)
            if current is None:
                return out
            if settled(current) or time.monotonic() >= deadline:
                return view(current)
            await anyio.sleep(pause)
            pause = min(pause * 1.5, 0.2)

"""The web console: server-rendered pages over the same core as the REST API.

`install(app, ctx)` mounts it at /console (and redirects / there); it needs the store of
standalone mode, like the REST API.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..service.context import Context


def install(app: FastAPI, ctx: Context) -> None:
    from .routes import install as mount  # jinja2 loads only when the console is served
    from .state import Console

    mount(app, Console(ctx))

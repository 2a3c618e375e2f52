"""/docs: Swagger UI served from this process, so it works without internet access.

FastAPI's default page loads Swagger UI's JS/CSS (and a favicon) from a CDN: on a machine
without internet it is blank. The `swagger-ui-py` package ships Swagger UI 5's dist files
(5.x: the first to read OpenAPI 3.1, which FastAPI writes; `swagger-ui-bundle` ships 4.x);
only those files are used, served under /docs/static. ReDoc is not offered (no packaged
copy).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC = "/docs/static"


def assets() -> Path:
    """swagger-ui-py's static directory, found without importing the package (its
    framework adapters are not used)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed: pip install swagger-ui-py")
    return Path(spec.origin).parent / "static"


def install(app: FastAPI) -> None:
    """Needs `FastAPI(docs_url=None, redoc_url=None)`: this replaces FastAPI's /docs."""
    app.mount(STATIC, StaticFiles(directory=assets()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
        )

"""/validate, /import, /export: many manifests at once, YAML or JSON."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..manifests import Loaded
from ..render.yamlout import dump
from ..service import transfer
from ..service.context import Context
from ..service.tokens import Principal
from .auth import Auth
from .errors import problem_list
from .responses import JSONResponse
from .schemas import ImportFailed, ImportOut, ValidateOut, responses

MANIFESTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Manifests: YAML (multi-document or a List) or JSON (an object, an "
        "array of objects or a List).",
        "content": {
            # Any document is accepted and judged: what is not a manifest is a problem.
            "application/yaml": {"schema": {}},
            "application/json": {"schema": {}},
        },
    }
}


def router(ctx: Context, auth: Auth) -> APIRouter:
    api = APIRouter(tags=["manifests"])
    principal = Depends(auth.principal)
    _add_validate_import(api, ctx, principal)
    _add_export(api, ctx, principal)
    return api


def _add_validate_import(api: APIRouter, ctx: Context, principal: Any) -> None:
    async def body(request: Request) -> Loaded:
        raw = await request.body()  # at most max_body_bytes: api/bodylimit.py
        content_type = request.headers.get("content-type", "application/yaml")
        return await run_in_threadpool(
            transfer.load_body, raw, content_type, ctx.writer.namespace_for
        )

    @api.post(
        "/validate",
        response_model=ValidateOut,
        responses=responses(401, 403, 413),
        openapi_extra=MANIFESTS_BODY,
    )
    async def validate(
        request: Request,
        who: Principal = principal,
        tools: bool = Query(True, description="Also run the promtool/amtool template checks."),
    ) -> JSONResponse:
        """Dry run: the problems `alertplane validate` would print; nothing is stored."""
        loaded = await body(request)
        outcome = await run_in_threadpool(transfer.check, ctx, who, loaded, tools)
        return JSONResponse(
            {
                "valid": outcome.ok,
                "objects": len(outcome.parsed),
                "problems": problem_list(outcome.problems),
            }
        )

    @api.post(
        "/import",
        response_model=ImportOut,
        responses={
            **responses(401, 403, 413),
            422: {"model": ImportFailed, "description": "Nothing was stored: the problems."},
        },
        openapi_extra=MANIFESTS_BODY,
    )
    async def import_(
        request: Request,
        who: Principal = principal,
        tools: bool = Query(True, description="Also run the promtool/amtool template checks."),
    ) -> JSONResponse:
        """Create or update every object of the body in one transaction, or none when any
        is invalid (schema, isolation, names, templates, duplicates in the store)."""
        loaded = await body(request)
        report = await run_in_threadpool(transfer.import_objects, ctx, who, loaded, tools)
        out: dict[str, Any] = {
            "applied": report.applied,
            "changes": report.changes,
            "problems": problem_list(report.problems),
        }
        if not report.applied:
            n = len(report.problems)
            out["detail"] = f"nothing imported: {n} problem{'s' if n != 1 else ''}"
        return JSONResponse(out, status_code=200 if report.applied else 422)


def _add_export(api: APIRouter, ctx: Context, principal: Any) -> None:
    @api.get(
        "/export",
        responses={
            **responses(401, 404),
            200: {
                "description": "A v1 List of manifests (JSON or YAML), ready for /import.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ManifestList"}},
                    "application/yaml": {"schema": {"$ref": "#/components/schemas/ManifestList"}},
                },
            },
        },
    )
    def export(
        who: Principal = principal,
        format: Literal["json", "yaml"] = Query("json", description="json or yaml"),
        customer: str | None = Query(None, description="Only this customer (admin tokens)."),
    ) -> Response:
        """Every object the token may see, as manifests without status."""
        listed = {"apiVersion": "v1", "kind": "List", "items": transfer.export(ctx, who, customer)}
        if format == "yaml":
            return Response(dump(listed), media_type="application/yaml")
        return JSONResponse(listed)

"""/validate, /import, /export: many manifests at once, YAML or JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, Problem
from ..manifests import Loaded
from ..model.alert import Category, Severity
from ..render.yamlout import dump
from ..service import imports, transfer
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


def conversion(
    format: Literal["manifests", "prometheus"] = Query(
        "manifests",
        description="manifests, or prometheus: Prometheus rule files, PrometheusRule objects, "
        "Mimir/Cortex ruler namespaces and alertmanager.yml, converted as `alertplane import` "
        "does (docs/import.md)",
    ),
    customer: str | None = Query(None, description="format=prometheus: whose rules these are."),
    customerLabel: str | None = Query(  # the API's camel case
        None, description="format=prometheus, admins: the label naming each rule's customer."
    ),
    customerMap: list[str] = Query(  # noqa: B008
        [], description="VALUE=ID: this customerLabel value is customer ID."
    ),
    category: Annotated[Category, Query(description="Default category.")] = Category.application,
    severityMap: str = Query("", description="Extra VALUE=SEVERITY pairs, comma-separated."),
    defaultSeverity: Annotated[Severity, Query(description="Default severity.")] = Severity.warning,
) -> imports.Asked | None:
    if format == "manifests":
        return None
    pairs = [entry.partition("=") for entry in customerMap]
    return imports.Asked(
        customer=customer,
        customer_label=customerLabel,
        customer_map={value: cid for value, _, cid in pairs},
        category=category,
        severity_map=severityMap,
        default_severity=defaultSeverity,
    )


async def _body(
    ctx: Context, request: Request, who: Principal, asked: imports.Asked | None
) -> tuple[Loaded, list[Problem], list[Problem]]:
    """The body's manifests, and (format=prometheus) what the conversion refused/noted."""
    raw = await request.body()  # at most max_body_bytes: api/bodylimit.py
    if asked is not None:
        try:
            done = await run_in_threadpool(imports.convert, raw, who, asked)
        except ValueError as exc:
            raise Invalid([Problem("", str(exc), "see docs/import.md")]) from None
        return done.loaded, done.refused, done.notes
    content_type = request.headers.get("content-type", "application/yaml")
    loaded = await run_in_threadpool(
        transfer.load_body, raw, content_type, ctx.writer.namespace_for
    )
    return loaded, [], []


def _add_validate_import(api: APIRouter, ctx: Context, principal: Any) -> None:
    _add_validate(api, ctx, principal)
    _add_import(api, ctx, principal)


def _add_validate(api: APIRouter, ctx: Context, principal: Any) -> None:
    converting = Depends(conversion)

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
        asked: imports.Asked | None = converting,
    ) -> JSONResponse:
        """Dry run: the problems `alertplane validate` would print; nothing is stored.
        With format=prometheus, also what the conversion refused (`refused`, `notes`)."""
        loaded, refused, notes = await _body(ctx, request, who, asked)
        outcome = await run_in_threadpool(transfer.check, ctx, who, loaded, tools)
        out: dict[str, Any] = {
            "valid": outcome.ok and not refused,
            "objects": len(outcome.parsed),
            "problems": problem_list(outcome.problems),
        }
        if asked is not None:
            out |= {"refused": problem_list(refused), "notes": problem_list(notes)}
        return JSONResponse(out)


def _add_import(api: APIRouter, ctx: Context, principal: Any) -> None:
    converting = Depends(conversion)

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
        asked: imports.Asked | None = converting,
    ) -> JSONResponse:
        """Create or update every object of the body in one transaction, or none when any
        is invalid (schema, isolation, names, templates, duplicates in the store).
        With format=prometheus the body is converted first; the rules and routes that
        cannot be converted are listed in `refused` (with why), the others imported."""
        loaded, refused, notes = await _body(ctx, request, who, asked)
        if asked is not None and not loaded.documents and refused:
            loaded = Loaded([], refused)  # nothing converted: the refusals are the problems
        report = await run_in_threadpool(transfer.import_objects, ctx, who, loaded, tools)
        out: dict[str, Any] = {
            "applied": report.applied,
            "changes": report.changes,
            "problems": problem_list(report.problems),
        }
        if asked is not None:
            out |= {"refused": problem_list(refused), "notes": problem_list(notes)}
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

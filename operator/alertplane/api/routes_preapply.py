"""Before applying: `POST /diff` (what an /import of the body would change) and
`POST /customers/{id}/alerts/preview` (which series an alert would fire on now)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid
from ..errors import Problem as ProblemType
from ..service import diffs, imports, transfer
from ..service.access import Access
from ..service.context import Context
from ..service.preview import preview
from ..service.tokens import Principal
from .auth import Auth
from .errors import problem_list
from .responses import JSONResponse
from .routes_admin import MANIFESTS_BODY, conversion
from .routes_objects import SPEC
from .schemas import Problem, responses


class ObjectDiffOut(BaseModel):
    kind: str
    namespace: str
    name: str
    customerId: str
    action: str = Field(description="added, changed, unchanged or deleted (prune=true).")
    diff: str = Field(description="Unified diff of the object's labels and spec (redacted).")


class OutputDiffOut(BaseModel):
    path: str = Field(description="rules/<customer>.yml or alertmanager.yml.")
    action: str = Field(description="added, changed or removed.")
    diff: str


class DiffOut(BaseModel):
    changed: bool = Field(description="Something would change (the CLI's exit code 1).")
    counts: dict[str, int]
    objects: list[ObjectDiffOut]
    outputs: list[OutputDiffOut] = Field(
        description="The rendered files of the body's customers only, before and after."
    )
    problems: list[Problem] = Field(description="Documents an import would refuse.")
    marked: list[Problem] = Field(
        description="What only promtool/amtool find: imported, but the object Invalid."
    )
    refused: list[Problem] | None = Field(
        None, description="format=prometheus: rules and routes not converted, and why."
    )
    notes: list[Problem] | None = Field(
        None, description="format=prometheus: what was converted but not carried over whole."
    )


class SeriesOut(BaseModel):
    labels: dict[str, str] = Field(description="The alert's labels for this series.")
    value: str
    annotations: dict[str, str] | None = Field(
        None, description="Its annotations, expanded by Prometheus' template engine."
    )


class PreviewOut(BaseModel):
    expr: str = Field(description="The expression evaluated (after autoInject).")
    firing: int = Field(description="Series the expression returns now: alerts.")
    state: str = Field(description="firing, or pending while `for` has not passed.")
    series: list[SeriesOut]
    truncated: bool = Field(description="More series than listed (the first 100 are).")
    annotationsNote: str = Field(description="Why some annotations are not shown, or empty.")


PREVIEW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A CustomerAlert spec as for a create; alertName, category and "
        "severity may be left out while drafting.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def router(ctx: Context, auth: Auth) -> APIRouter:
    api = APIRouter(tags=["preapply"])
    principal = Depends(auth.principal)
    customer = Depends(auth.customer)
    converting = Depends(conversion)

    @api.post(
        "/diff",
        response_model=DiffOut,
        responses=responses(401, 403, 413),
        openapi_extra=MANIFESTS_BODY,
    )
    async def diff(
        request: Request,
        who: Principal = principal,
        prune: bool = Query(False, description="Also list the customers' objects the body lacks."),
        tools: bool = Query(True, description="Also run the promtool/amtool checks."),
        asked: imports.Asked | None = converting,
    ) -> JSONResponse:
        """What an /import of the body would change, per object and in the rendered rule
        files and Alertmanager routes of the body's customers; nothing is stored. With
        format=prometheus the body is converted first, as /import converts it (`refused`,
        `notes`)."""
        raw = await request.body()  # at most max_body_bytes: api/bodylimit.py
        refused: list[ProblemType] = []
        notes: list[ProblemType] = []
        if asked is not None:
            try:
                done = await run_in_threadpool(imports.convert, raw, who, asked)
            except ValueError as exc:
                raise Invalid([ProblemType("", str(exc), "see docs/import.md")]) from None
            loaded, refused, notes = done.loaded, done.refused, done.notes
        else:
            content_type = request.headers.get("content-type", "application/yaml")
            loaded = await run_in_threadpool(
                transfer.load_body, raw, content_type, ctx.writer.namespace_for
            )
        report = await run_in_threadpool(diffs.diff_body, ctx, who, loaded, prune, tools)
        out = report.as_dict()
        out |= {"problems": problem_list(report.problems), "marked": problem_list(report.marked)}
        if asked is not None:
            out |= {"refused": problem_list(refused), "notes": problem_list(notes)}
        return JSONResponse(out)

    @api.post(
        "/customers/{customerId}/alerts/preview",
        response_model=PreviewOut,
        responses={**responses(401, 404, 422), 502: {"description": "Prometheus failed."},
                   503: {"description": "No Prometheus configured, or too many previews."}},
        openapi_extra=PREVIEW_BODY,
    )  # fmt: skip
    def preview_alert(access: Access = customer, body: Any = SPEC) -> JSONResponse:
        """Evaluate the alert's expression now on the customer's Prometheus, after the
        same checks as a create (isolation first): how many series would fire, with the
        labels each alert would carry. Nothing is stored."""
        done = preview(ctx, access, body, ctx.settings.firing_timeout_s)
        return JSONResponse(done.as_dict())

    return api

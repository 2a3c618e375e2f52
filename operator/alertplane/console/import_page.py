"""The console's import page: paste (or pick a file of) Prometheus rules, a
PrometheusRule, a Mimir/Cortex ruler namespace or an alertmanager.yml → review → apply.

Review converts with the importer exactly as `POST /import?format=prometheus` does
(service/imports.py, the customer is the page's: a customer token imports for its own
customer only), then shows what would change as `POST /diff` computes it
(service/diffs.py) and what was refused or only partly carried over. Apply sends the same
text again and imports it in one transaction (service/transfer.py), audited with source
"console"; nothing is stored on review. The file picker only fills the text area
(console.js): the form stays urlencoded, like every console form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import Invalid, Problem
from ..model.alert import Category, Severity
from ..service import diffs, imports, transfer
from ..service.access import Access
from ..service.diff import UNCHANGED
from .editing import done
from .render import html
from .session import Session, check_csrf, read_form
from .state import Console

FIELDS = ("rules", "category", "severityMap", "defaultSeverity")
CHOICES = {
    "category": [c.value for c in Category],
    "defaultSeverity": [s.value for s in Severity],
}
DEFAULTS = {"rules": "", "category": "application", "defaultSeverity": "warning", "severityMap": ""}


def _page(
    session: Session, access: Access, values: dict[str, str], status: int = 200, **more: Any
) -> Response:
    return html(
        "import.html",
        status,
        session=session,
        cid=access.customer,
        tab="import",
        values=values,
        choices=CHOICES,
        **more,
    )


def _asked(access: Access, values: dict[str, str]) -> imports.Asked:
    category = values.get("category", "")
    severity = values.get("defaultSeverity", "")
    return imports.Asked(
        customer=access.customer,
        category=Category(category) if category in CHOICES["category"] else Category.application,
        severity_map=values.get("severityMap", ""),
        default_severity=Severity(severity)
        if severity in CHOICES["defaultSeverity"]
        else Severity.warning,
    )


def _convert(console: Console, access: Access, values: dict[str, str]) -> imports.Converted:
    raw = values.get("rules", "").encode("utf-8")
    try:
        return imports.convert(raw, access.principal, _asked(access, values))
    except ValueError as exc:  # a bad severity map: said on the page
        raise Invalid([Problem("severityMap", str(exc), "e.g. P1=critical,P3=info")]) from None


def _review(console: Console, access: Access, values: dict[str, str]) -> dict[str, Any]:
    """What the page shows after Review: converted, refused, noted, and the diff."""
    try:
        done_ = _convert(console, access, values)
    except Invalid as exc:
        return {"problems": exc.problems}
    report = diffs.diff_body(console.ctx, access.principal, done_.loaded, False, False)
    changes = [c for c in report.objects if c.action != UNCHANGED]
    return {
        "reviewed": True,
        "refused": done_.refused,
        "notes": done_.notes,
        "problems": report.problems,
        "objects": report.objects,
        "changes": changes,
        "outputs": report.outputs,
    }


def _apply(console: Console, access: Access, values: dict[str, str]) -> transfer.Report:
    converted = _convert(console, access, values)
    loaded = converted.loaded
    if not loaded.documents and converted.refused:
        raise Invalid(converted.refused, "nothing could be converted")
    # With the tools, like /import: what only they find is imported but marked Invalid.
    report = transfer.import_objects(console.writes, access.principal, loaded, tools=True)
    if not report.applied:
        raise Invalid(report.problems, "nothing imported")
    return report


def add(api: APIRouter, console: Console) -> None:
    def import_form(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid, known=False)
        return _page(session, access, dict(DEFAULTS))

    async def import_post(request: Request, cid: str) -> Response:
        session, access = await run_in_threadpool(console.access, request, cid, False)
        form = await read_form(request)
        check_csrf(session, form)
        values = {k: form.get(k, DEFAULTS.get(k, "")) for k in FIELDS}
        if form.get("action") == "apply":
            try:
                report = await run_in_threadpool(_apply, console, access, values)
            except Invalid as exc:
                shown = {"problems": exc.problems, "failed": exc.detail}
                return _page(session, access, values, 422, **shown)
            n = len(report.changes)
            return done(cid, "imported", f"{n} object{'s' if n != 1 else ''}")
        shown = await run_in_threadpool(_review, console, access, values)
        return _page(session, access, values, 200 if shown.get("reviewed") else 422, **shown)

    base = "/customers/{cid}/import"
    api.add_api_route(base, import_form, methods=["GET"], name="import_form")
    api.add_api_route(base, import_post, methods=["POST"], name="import_post")

"""The catalogue as forms: a CustomerAlert from one of the platform's alert templates.

`/customers/{cid}/templates` lists the catalogue; `/templates/{name}` is a form with one
input per typed parameter (its range, default and description next to it); an alert made
from a template is edited at `/alerts/{name}/template` (the plain alert form would drop the
template and keep its expression). Writes go through the same path as the alert form
(editing._write: `service.crud`, admitted by `core.admit`), so a value out of range is
refused with the core's message, shown next to its input.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..errors import NotFound, Problem
from ..render.catalogue import AlertTemplate, TemplateParam
from ..service.objects import restore, view
from . import forms, views
from .editing import ALERT_FORM, _write, done
from .render import curl, html, redirect
from .session import check_csrf, read_form
from .state import Console

RULE_FIELDS = ("alertName", "severity", "category", "urgency")
PREFIX = "p-"  # form field of a parameter: p-<name>


def _template(console: Console, name: str) -> AlertTemplate:
    found = console.ctx.platform.template(name)
    if found is None:
        raise NotFound(f"the platform has no alert template {name!r}")
    return found


def hint(param: TemplateParam) -> str:
    """What a customer needs beside the input: what it is, its range, its default."""
    parts = [param.description] if param.description else []
    show = _show
    if param.min is not None and param.max is not None:
        parts.append(f"from {show(param.min)} to {show(param.max)}")
    elif param.min is not None:
        parts.append(f"at least {show(param.min)}")
    elif param.max is not None:
        parts.append(f"at most {show(param.max)}")
    if param.enum is not None:
        parts.append("one of " + ", ".join(show(v) for v in param.enum))
    if param.default == "":
        parts.append("optional")
    elif param.default is not None:
        parts.append(f"default {show(param.default)}")
    return " · ".join(p for p in parts if p)


def _show(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def values_of(template: AlertTemplate, spec: dict[str, Any] | None) -> dict[str, str]:
    spec = spec or {}
    out = {key: str(spec.get(key) or "") for key in RULE_FIELDS}
    out["enabled"] = "on" if spec.get("enabled", True) is not False else ""
    ref = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    given = ref.get("params") if isinstance(ref, dict) else None
    params = given if isinstance(given, dict) else {}
    for p in template.params:
        default = "" if p.default is None else _show(p.default)
        out[PREFIX + p.name] = str(params.get(p.name, default if not spec else ""))
    return out


def spec_of(
    template: AlertTemplate, form: dict[str, str], stored: dict[str, Any] | None, name: str | None
) -> dict[str, Any]:
    """The spec the form describes. Editing keeps what the form does not show (labels,
    annotations, tests); the expression is the template's, so the stored one is dropped."""
    spec = {k: v for k, v in (stored or {}).items() if k not in ("expr", "template")}
    for key in RULE_FIELDS:
        value = forms.clean(form.get(key, "")).strip()
        spec.pop(key, None)
        if value:
            spec[key] = value
    if name is not None:
        spec["alertName"] = name
    spec["enabled"] = form.get("enabled") == "on"
    params = {}
    for p in template.params:
        value = forms.clean(form.get(PREFIX + p.name, "")).strip()
        if value:  # empty: the template's default (or its "required" message)
            params[p.name] = value
    spec["template"] = {"name": template.name, "params": params}
    return spec


def pin(problems: list[Problem]) -> forms.FieldErrors:
    out = forms.FieldErrors()
    for p in problems:
        field = None
        if p.path.startswith("spec.template.params."):
            field = PREFIX + p.path.removeprefix("spec.template.params.")
        elif p.path.removeprefix("spec.") in RULE_FIELDS:
            field = p.path.removeprefix("spec.")
        if field is None:
            out.general.append(p.text())
        else:
            out.fields.setdefault(field, []).append(p.text())
        out.lines.append((field or "", str(p)))
    return out


def add(api: APIRouter, console: Console) -> None:
    base = "/customers/{cid}"

    def catalogue(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid, known=False)
        templates = console.ctx.platform.alert_templates
        return html("templates.html", session=session, cid=access.customer, tab="alerts",
                    templates=templates)  # fmt: skip

    def new_form(request: Request, cid: str, template: str) -> Response:
        session, access = console.access(request, cid, known=False)
        found = _template(console, template)
        return _page(session, access.customer, found, None, values_of(found, None), [])

    async def create(request: Request, cid: str, template: str) -> Response:
        return await _save(console, request, cid, template, None)

    def edit_form(request: Request, cid: str, name: str) -> Response:
        session, access = console.access(request, cid)
        current = views.row(view(console.ctx.lookup(ALERT_FORM.kind, access, restore(name))))
        found = _template(console, _template_name(current.spec))
        errors = forms.pin_texts(current.valid_message)
        return _page(session, access.customer, found, current, values_of(found, current.spec),
                     [], errors=errors)  # fmt: skip

    async def update(request: Request, cid: str, name: str) -> Response:
        return await _save(console, request, cid, None, restore(name))

    api.add_api_route(f"{base}/templates", catalogue, methods=["GET"], name="alert_templates")
    one = f"{base}/templates/{{template}}"
    api.add_api_route(one, new_form, methods=["GET"], name="new_templated_alert")
    api.add_api_route(one, create, methods=["POST"], name="create_templated_alert")
    edit = f"{base}/alerts/{{name}}/template"
    api.add_api_route(edit, edit_form, methods=["GET"], name="edit_templated_alert")
    api.add_api_route(edit, update, methods=["POST"], name="update_templated_alert")


def _template_name(spec: dict[str, Any]) -> str:
    ref = spec.get("template")
    return str(ref.get("name", "")) if isinstance(ref, dict) else ""


def _page(
    session: Any,
    cid: str,
    template: AlertTemplate,
    current: views.Row | None,
    values: dict[str, str],
    problems: list[Problem],
    status: int = 200,
    errors: forms.FieldErrors | None = None,
) -> Response:
    return html("template_form.html", status, session=session, cid=cid, tab="alerts",
                chosen=template, current=current, values=values,
                errors=errors if errors is not None else pin(problems),
                choices=forms.CHOICES, hint=hint, prefix=PREFIX)  # fmt: skip


async def _save(
    console: Console, request: Request, cid: str, template: str | None, name: str | None
) -> Response:
    """POST of the new form (`name` None) or of a templated alert's edit form."""
    session, access = await run_in_threadpool(console.access, request, cid, name is not None)
    current = None
    if name is not None:
        found = await run_in_threadpool(console.ctx.lookup, ALERT_FORM.kind, access, name)
        current = views.row(view(found))
        template = _template_name(current.spec)
    chosen = _template(console, template or "")
    form = await read_form(request)
    check_csrf(session, form)
    spec = spec_of(chosen, form, current.spec if current else None, name)
    out, problems = await run_in_threadpool(_write, console, access, ALERT_FORM, spec, name)
    if problems or out is None:
        values = {**values_of(chosen, None), **{k: forms.clean(v) for k, v in form.items()}}
        values["enabled"] = "on" if form.get("enabled") == "on" else ""
        return _page(session, access.customer, chosen, current, values, problems, 422)
    out = await console.settle(out)
    written = str(out["spec"]["alertName"])
    if out["status"]["phase"] == "Invalid":
        return redirect(curl(cid, "alerts", written, "template"))
    return done(cid, "created" if name is None else "saved", written)

"""The recording rule pages: the customer's list and a plain form (record, expression,
labels, enabled, autoInject), written through the one edit flow (editing.py) like alerts.

The form only reshapes text (labels are `name=value` lines); every rule is the core's, and
its messages are shown next to the field their path names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import Problem
from ..service import crud
from ..service.objects import RECORDING_RULE
from . import views
from .forms import FieldErrors, clean, parse_pairs
from .render import html, notice
from .state import Console

SIMPLE = ("record", "expr")
FIELDS = (*SIMPLE, "labels", "enabled", "autoInject")
_SPLIT = re.compile(r"; (?=spec(?:\.|\[|:))")


def field_of(path: str) -> str | None:
    """The form field a problem path is about (`spec.labels.team` → labels)."""
    head = re.split(r"[.\[]", path.removeprefix("spec."), maxsplit=1)[0]
    if not path.startswith("spec.") or head not in FIELDS:
        return None
    return head


def _add(out: FieldErrors, name: str | None, text: str, line: str) -> None:
    if name is None:
        out.general.append(text)
    else:
        out.fields.setdefault(name, []).append(text)
    out.lines.append((name or "", line))


def pin(problems: Iterable[Problem]) -> FieldErrors:
    out = FieldErrors()
    for p in problems:
        _add(out, field_of(p.path), p.text(), str(p))
    return out


def pin_texts(message: str) -> FieldErrors:
    """A condition message split back into problems (see `forms.pin_texts`)."""
    out = FieldErrors()
    for text in (t.strip() for t in _SPLIT.split(message) if t.strip()):
        _add(out, field_of(text.split(":", 1)[0] if ":" in text else ""), text, text)
    return out


def values_of(spec: dict[str, Any] | None) -> dict[str, str]:
    """Form field values for a stored spec (or the defaults of a new recording rule)."""
    if spec is None:
        return {"record": "", "expr": "", "labels": "", "enabled": "on", "autoInject": ""}
    labels = spec.get("labels") if isinstance(spec.get("labels"), dict) else {}
    assert isinstance(labels, dict)
    return {
        "record": str(spec.get("record", "")),
        "expr": str(spec.get("expr", "")),
        "labels": "\n".join(f"{k}={v}" for k, v in labels.items()),
        "enabled": "" if spec.get("enabled") is False else "on",
        "autoInject": "on" if spec.get("autoInject") else "",
    }


def spec_of(form: dict[str, str], name: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The spec a submitted form describes; `name` is the record being edited (the page's,
    not the form's). Empty fields are left out: the core says what is required."""
    spec: dict[str, Any] = {}
    record = name if name is not None else form.get("record", "").strip()
    if record:
        spec["record"] = record
    expr = clean(form.get("expr", ""))
    if expr.strip():
        spec["expr"] = expr
    labels, problems = parse_pairs(form.get("labels", ""), "spec.labels", "label")
    if labels:
        spec["labels"] = labels
    spec["enabled"] = form.get("enabled") == "on"
    if form.get("autoInject") == "on":
        spec["autoInject"] = True
    return spec, problems


def submitted(form: dict[str, str]) -> dict[str, str]:
    """What the user typed, to show again next to the problems."""
    out = {name: clean(form.get(name, "")) for name in ("record", "expr", "labels")}
    for box in ("enabled", "autoInject"):
        out[box] = "on" if form.get(box) == "on" else ""
    return out


def add_pages(api: APIRouter, console: Console) -> None:
    """The customer's recording rules, and the fragment that refreshes the table."""
    ctx = console.ctx

    @api.get("/customers/{cid}/recordingrules")
    def records_page(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        rows = views.rows(crud.list_objects(ctx, access, RECORDING_RULE))
        return html(
            "recordingrules.html",
            session=session,
            cid=access.customer,
            tab="recordingrules",
            records=rows,
            notice=notice(request),
        )

    @api.get("/customers/{cid}/fragments/recordingrules")
    def records_fragment(request: Request, cid: str) -> Response:
        session, access = console.access(request, cid)
        rows = views.rows(crud.list_objects(ctx, access, RECORDING_RULE))
        return html(
            "_records_table.html",
            session=session,
            cid=access.customer,
            tab="recordingrules",
            records=rows,
        )

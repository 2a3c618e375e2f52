"""The SLO form: a CustomerSLO spec ↔ form fields, and problems pinned on their field.

Like the alert form (forms.py) it only reshapes text: the alerts' labels and extra
annotations are `name=value` lines; every rule is the core's (validate/slo.py), shown next
to the field its path names, exactly as `alertplane validate` words it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..errors import Problem
from ..render.slo import number
from .forms import FieldErrors, clean, parse_pairs

# form field → where the spec holds it
PLACES = {
    "sloName": ("sloName",),
    "description": ("description",),
    "objective": ("objective",),
    "period": ("period",),
    "errorQuery": ("sli", "events", "errorQuery"),
    "goodQuery": ("sli", "events", "goodQuery"),
    "totalQuery": ("sli", "events", "totalQuery"),
    "pageAlertName": ("alerting", "pageAlertName"),
    "ticketAlertName": ("alerting", "ticketAlertName"),
    "category": ("alerting", "category"),
}
CHECKS = ("enabled", "autoInject")
EXTRA = "annotations"
# Annotations with a field of their own; the others (description too: that field is the
# SLO's) are `name=value` lines.
NOTES = ("summary", "runbookUrl")
FIELDS = (*PLACES, *CHECKS, "labels", *NOTES, EXTRA)
CHOICES = {"category": ("application", "infrastructure")}
_SPLIT = re.compile(r"; (?=spec(?:\.|\[|:))")
_BY_PATH = {".".join(place): name for name, place in PLACES.items()}


def field_of(path: str) -> str | None:
    """The form field a problem path is about (`spec.sli.events.totalQuery` → totalQuery)."""
    if not path.startswith("spec."):
        return None
    rest = path.removeprefix("spec.")
    if rest in _BY_PATH:
        return _BY_PATH[rest]
    if rest == "sli.events":  # "give exactly one of errorQuery and goodQuery"
        return "errorQuery"
    if rest in CHECKS:
        return rest
    if rest.startswith("alerting.labels"):
        return "labels"
    if rest.startswith("alerting.annotations"):
        key = rest.removeprefix("alerting.annotations.").split(".", 1)[0]
        return key if key in NOTES else EXTRA
    return None


def pin(problems: Iterable[Problem]) -> FieldErrors:
    out = FieldErrors()
    for p in problems:
        name = field_of(p.path)
        if name is None:
            out.general.append(p.text())
        else:
            out.fields.setdefault(name, []).append(p.text())
        out.lines.append((name or "", str(p)))
    return out


def pin_texts(message: str) -> FieldErrors:
    """A condition message (the reconciler's "; "-joined texts) pinned on fields."""
    out = FieldErrors()
    for text in (t.strip() for t in _SPLIT.split(message) if t.strip()):
        name = field_of(text.split(":", 1)[0] if ":" in text else "")
        if name is None:
            out.general.append(text)
        else:
            out.fields.setdefault(name, []).append(text)
        out.lines.append((name or "", text))
    return out


def _get(spec: dict[str, Any], place: tuple[str, ...]) -> Any:
    value: Any = spec
    for key in place:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _lines(mapping: Any) -> str:
    if not isinstance(mapping, dict):
        return ""
    return "\n".join(f"{k}={v}" for k, v in mapping.items())


def values_of(spec: dict[str, Any] | None) -> dict[str, str]:
    """Form field values for a stored spec (or the defaults of a new SLO)."""
    if spec is None:
        values = dict.fromkeys(FIELDS, "")
        return {**values, "enabled": "on", "period": "30d", "category": "application"}
    out = {}
    for name, place in PLACES.items():
        value = _get(spec, place)
        out[name] = "" if value is None else str(value)
    out["enabled"] = "on" if spec.get("enabled", True) is not False else ""
    out["autoInject"] = "on" if spec.get("autoInject") is True else ""
    out["labels"] = _lines(_get(spec, ("alerting", "labels")))
    notes = _get(spec, ("alerting", "annotations"))
    notes = notes if isinstance(notes, dict) else {}
    for key in NOTES:
        value = notes.get(key)
        out[key] = "" if value is None else str(value)
    out[EXTRA] = _lines({k: v for k, v in notes.items() if k not in NOTES})
    return out


def _put(spec: dict[str, Any], place: tuple[str, ...], value: Any) -> None:
    for key in place[:-1]:
        spec = spec.setdefault(key, {})
    spec[place[-1]] = value


def spec_of(form: dict[str, str], name: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The spec a submitted form describes; `name` is the SLO being edited (its name is the
    page's). Empty fields are left out, so the core says what is required in its words;
    the objective is sent as a number when it reads as one, else as typed (the core
    refuses it)."""
    spec: dict[str, Any] = {}
    for field, place in PLACES.items():
        value = clean(form.get(field, ""))
        if field == "sloName" and name is not None:
            value = name
        if not field.endswith("Query"):
            value = value.strip()
        if not value.strip():
            continue
        _put(spec, place, _number(value) if field == "objective" else value)
    spec["enabled"] = form.get("enabled") == "on"
    spec["autoInject"] = form.get("autoInject") == "on"
    labels, problems = parse_pairs(form.get("labels", ""), "spec.alerting.labels", "label")
    if labels:
        _put(spec, ("alerting", "labels"), labels)
    notes: dict[str, str] = {}
    for key in NOTES:
        value = clean(form.get(key, "")).strip()
        if value:
            notes[key] = value
    extra, more = parse_pairs(form.get(EXTRA, ""), "spec.alerting.annotations", "annotation")
    problems += more
    for key, value in extra.items():
        notes.setdefault(key, value)
    if notes:
        _put(spec, ("alerting", "annotations"), notes)
    return spec, problems


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def submitted(form: dict[str, str]) -> dict[str, str]:
    """What the user typed, to show again next to the problems."""
    out = {name: clean(form.get(name, "")) for name in FIELDS}
    for name in CHECKS:
        out[name] = "on" if form.get(name) == "on" else ""
    return out


def budget_text(spec: dict[str, Any]) -> str:
    """The error budget of a stored spec in words ("0.1% over 30d"); "" when unreadable."""
    objective = spec.get("objective")
    if not isinstance(objective, int | float) or not 0 < objective < 100:
        return ""
    budget = (Decimal(100) - Decimal(repr(float(objective)))) / Decimal(100) * 100
    return f"{number(budget)}% over {spec.get('period', '30d')}"

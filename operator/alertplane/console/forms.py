"""The alert form: spec ↔ form fields, and problems pinned on the field they are about.

The form only reshapes text (labels and extra annotations are `name=value` lines);
every rule is the core's: its messages are shown next to the field their path names,
exactly as `alertplane validate` words them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..model.alert import KNOWN_ANNOTATIONS

SIMPLE = ("alertName", "category", "severity", "urgency", "expr", "for", "keepFiringFor")
CHOICES = {
    "category": ("application", "infrastructure"),
    "severity": ("critical", "warning", "info"),
    "urgency": ("high", "medium", "low"),
}
EXTRA = "annotations"  # the textarea of free annotation keys
FIELDS = (*SIMPLE, "enabled", "labels", *KNOWN_ANNOTATIONS, EXTRA)
_SPLIT = re.compile(r"; (?=spec(?:\.|\[|:))")


@dataclass
class FieldErrors:
    """Problem texts per form field, and those no field can show."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (field or "", full line)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def field_of(path: str) -> str | None:
    """The form field a problem path is about (`spec.annotations.summary` → summary)."""
    if path != "spec" and not path.startswith(("spec.", "spec[")):
        return None
    parts = re.split(r"[.\[]", path.removeprefix("spec."), maxsplit=2)
    head = parts[0]
    if head in SIMPLE or head == "enabled":
        return head
    if head == "labels":
        return "labels"
    if head == "annotations":
        if len(parts) > 1 and parts[1] in KNOWN_ANNOTATIONS:
            return parts[1]
        return EXTRA
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
    """A condition message ("; "-joined `path: message; hint` texts, as the reconciler
    writes them) split back into problems and pinned on fields."""
    out = FieldErrors()
    for text in (t.strip() for t in _SPLIT.split(message) if t.strip()):
        path = text.split(":", 1)[0] if ":" in text else ""
        name = field_of(path)
        if name is None:
            out.general.append(text)
        else:
            out.fields.setdefault(name, []).append(text)
        out.lines.append((name or "", text))
    return out


def values_of(spec: dict[str, Any] | None) -> dict[str, str]:
    """Form field values for a stored spec (or the defaults of a new alert)."""
    if spec is None:
        return {**dict.fromkeys(FIELDS, ""), "enabled": "on"}
    out = {name: _text(spec.get(name)) for name in SIMPLE}
    out["enabled"] = "on" if spec.get("enabled", True) is not False else ""
    out["labels"] = _lines(spec.get("labels"))
    annotations = spec.get("annotations") if isinstance(spec.get("annotations"), dict) else {}
    assert isinstance(annotations, dict)
    for key in KNOWN_ANNOTATIONS:
        out[key] = _text(annotations.get(key))
    out[EXTRA] = _lines({k: v for k, v in annotations.items() if k not in KNOWN_ANNOTATIONS})
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _lines(mapping: Any) -> str:
    if not isinstance(mapping, dict):
        return ""
    return "\n".join(f"{k}={v}" for k, v in mapping.items())


def clean(text: str) -> str:
    # Browsers send textarea line breaks as CRLF.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_pairs(text: str, path: str, what: str) -> tuple[dict[str, str], list[Problem]]:
    out: dict[str, str] = {}
    problems = []
    for number, raw in enumerate(clean(text).split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            problems.append(
                Problem(
                    path,
                    f"line {number}: expected name=value",
                    f"write one {what} per line, e.g. team=checkout",
                )
            )
            continue
        out[name.strip()] = value.strip()
    return out, problems


def spec_of(form: dict[str, str], name: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The spec a submitted form describes; `name` is the alert being edited (its name is
    the page's, not the form's). Empty fields are left out, so the core reports what is
    required with its own message."""
    spec: dict[str, Any] = {}
    for key in SIMPLE:
        value = clean(form.get(key, ""))
        if key == "alertName" and name is not None:
            value = name
        if key != "expr":
            value = value.strip()
        if value.strip():
            spec[key] = value
    spec["enabled"] = form.get("enabled") == "on"
    labels, problems = parse_pairs(form.get("labels", ""), "spec.labels", "label")
    if labels:
        spec["labels"] = labels
    annotations: dict[str, str] = {}
    for key in KNOWN_ANNOTATIONS:
        value = clean(form.get(key, "")).strip()
        if value:
            annotations[key] = value
    extra, more = parse_pairs(form.get(EXTRA, ""), "spec.annotations", "annotation")
    problems += more
    for key, value in extra.items():
        annotations.setdefault(key, value)
    if annotations:
        spec["annotations"] = annotations
    return spec, problems


def submitted(form: dict[str, str]) -> dict[str, str]:
    """What the user typed, to show again next to the problems."""
    out = {name: clean(form.get(name, "")) for name in FIELDS}
    out["enabled"] = "on" if form.get("enabled") == "on" else ""
    return out


ROUTE_KEYS = ("alertname", "severity", "category", "urgency")


def route_labels(form: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """Route-test labels: the named inputs (left out when empty) plus `name=value` lines."""
    labels, problems = parse_pairs(form.get("labels", ""), "labels", "label")
    for key in ROUTE_KEYS:
        value = form.get(key, "").strip()
        if value:
            labels[key] = value
    return labels, problems

"""Names that must be unique: object identity, and each object's identity within its
customer — (alertName, severity) for alerts, receiverName for receivers.

Two alerts of one customer may share an alertName iff their severities differ: the
warning/critical pair idiom of upstream rules (`NodeFilesystemSpaceFillingUp` at warning
and at critical). Renaming one of them would break inhibition, silences and dashboards
keyed on `alertname`, so the pair is two objects with one alertName (docs/import.md).

The later object in input order is the duplicate, so appending a file never changes
which of the existing objects stays valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ObjectRef, Problem
from ..model import NAME_FIELDS, CustomerAlert
from .schema import Parsed

ALERT = "CustomerAlert"
# An object's identity within its customer: (kind, customer, name[, severity]).
Identity = tuple[str, ...]


def identity(kind: str, customer: str, spec: Mapping[str, Any]) -> Identity | None:
    """The key no two objects of one customer may share; None when the spec names none
    (schema problems are reported elsewhere)."""
    name = spec.get(NAME_FIELDS.get(kind, ""))
    if not isinstance(name, str):
        return None
    if kind != ALERT:
        return (kind, customer, name)
    severity = spec.get("severity")
    return (kind, customer, name, severity if isinstance(severity, str) else "")


def described(key: Identity) -> str:
    """`alert 'X' at severity 'critical'`, `receiver 'oncall'`: a key as problems word it."""
    if key[0] == ALERT:
        return f"alert {key[2]!r} at severity {key[3]!r}"
    return f"receiver {key[2]!r}"


def duplicate(path_of: str, key: Identity, first: ObjectRef) -> Problem:
    """The problem of an object whose identity `first` already has."""
    hint = "choose another name or remove one of the two"
    if key[0] == ALERT:
        hint = (
            "choose another name, or another severity (a warning/critical pair may share "
            "the name), or remove one of the two"
        )
    return Problem(path_of, f"customer {key[1]!r} already has {described(key)} ({first})", hint)


def name_path(kind: str) -> str:
    return f"spec.{NAME_FIELDS.get(kind, 'name')}"


def check_unique(parsed: Sequence[Parsed]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[ObjectRef, Parsed] = {}
    seen_names: dict[Identity, Parsed] = {}
    for item in parsed:
        ref = item.ref
        first = seen_ids.get(ref)
        if first is not None:
            problems.append(
                Problem(
                    "metadata.name",
                    f"{ref} is defined twice (first at {_where(first)})",
                    "give each object its own metadata.name",
                ).at(ref, item.source)
            )
            continue
        seen_ids[ref] = item
        key = key_of(item)
        earlier = seen_names.get(key)
        if earlier is not None:
            problems.append(duplicate(name_path(ref.kind), key, earlier.ref).at(ref, item.source))
        else:
            seen_names[key] = item
    return problems


def key_of(item: Parsed) -> Identity:
    obj = item.obj
    if isinstance(obj, CustomerAlert):
        spec = obj.spec
        return (obj.kind, spec.customer_id, spec.alert_name, spec.severity.value)
    return (obj.kind, obj.spec.customer_id, obj.spec.receiver_name)


def _where(item: Parsed) -> str:
    return str(item.source) if item.source is not None else str(item.ref)

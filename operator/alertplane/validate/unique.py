"""Names that must be unique: object identity, and each object's identity within its
customer — its kind's name field plus the fields that let objects share the name
(model/kinds.py `shared_by`): (alertName, severity) for alerts, (record, labels) for
recording rules, receiverName for receivers.

Two alerts of one customer may share an alertName iff their severities differ: the
warning/critical pair idiom of upstream rules (`NodeFilesystemSpaceFillingUp` at warning
and at critical). Renaming one of them would break inhibition, silences and dashboards
keyed on `alertname`, so the pair is two objects with one alertName (docs/import.md).

The later object in input order is the duplicate, so appending a file never changes
which of the existing objects stays valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ObjectRef, Problem
from ..model import NAME_FIELDS, info
from ..model.common import dump_spec
from ..model.kinds import BY_KIND
from ..model.kinds import identity as kind_identity
from .schema import Parsed

ALERT = "CustomerAlert"
# An object's identity within its customer: (kind, customer, name, *shared fields).
Identity = tuple[str, ...]


def identity(kind: str, customer: str, spec: Mapping[str, Any]) -> Identity | None:
    """The key no two objects of one customer may share; None when the spec names none
    (schema problems are reported elsewhere). `spec` in its written, camelCase shape."""
    if kind not in BY_KIND or not isinstance(spec.get(NAME_FIELDS.get(kind, "")), str):
        return None
    return (kind, customer, *kind_identity(kind, spec))


def described(key: Identity) -> str:
    """`alert 'X' at severity 'critical'`, `receiver 'oncall'`, `recording rule 'r' with
    the same labels`: a key as problems word it."""
    kind = key[0]
    if kind == ALERT:
        return f"alert {key[2]!r} at severity {_shown(key[3])!r}"
    return f"{info(kind).noun} {key[2]!r}{alike(kind)}"


def duplicate(path_of: str, key: Identity, first: ObjectRef) -> Problem:
    """The problem of an object whose identity `first` already has."""
    return Problem(
        path_of,
        f"customer {key[1]!r} already has {described(key)} ({first})",
        duplicate_hint(key[0]),
    )


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
    return (obj.kind, obj.spec.customer_id, *kind_identity(obj.kind, dump_spec(obj.spec)))


def alike(kind: str) -> str:
    """` with the same labels`: what the duplicate shares besides the name (kinds whose
    objects may share a name, model/kinds.py `shared_by`)."""
    shared = info(kind).shared_by
    return f" with the same {' and '.join(shared)}" if shared else ""


def duplicate_hint(kind: str) -> str:
    if kind == ALERT:
        return (
            "choose another name, or another severity (a warning/critical pair may share "
            "the name), or remove one of the two"
        )
    shared = info(kind).shared_by
    if shared:
        return f"give it other {' and '.join(shared)}, choose another name or remove one of the two"
    return "choose another name or remove one of the two"


def _shown(canonical: str) -> str:
    """A shared field's value as written (model.kinds.identity keeps it as JSON)."""
    try:
        value = json.loads(canonical)
    except ValueError:
        return canonical
    return value if isinstance(value, str) else canonical


def _where(item: Parsed) -> str:
    return str(item.source) if item.source is not None else str(item.ref)

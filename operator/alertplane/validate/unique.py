"""Names that must be unique: object identity, and each kind's name field per customer.

The later object in input order is the duplicate, so appending a file never changes
which of the existing objects stays valid.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ObjectRef, Problem
from ..model import info, name_of
from ..model.common import dump_spec
from ..model.kinds import identity
from .schema import Parsed


def check_unique(parsed: Sequence[Parsed]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[ObjectRef, Parsed] = {}
    seen_names: dict[tuple[str, ...], Parsed] = {}
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
        obj = item.obj
        kind, name = info(obj.kind), name_of(obj)
        key = (obj.kind, obj.spec.customer_id, *identity(obj.kind, dump_spec(obj.spec)))
        path, what = f"spec.{kind.name_field}", f"{kind.noun} {name!r}{alike(obj.kind)}"
        first = seen_names.get(key)
        if first is not None:
            problems.append(
                Problem(
                    path,
                    f"customer {key[1]!r} already has {what} ({first.ref})",
                    duplicate_hint(obj.kind),
                ).at(ref, item.source)
            )
        else:
            seen_names[key] = item
    return problems


def alike(kind: str) -> str:
    """` with the same labels`: what the duplicate shares besides the name (kinds whose
    objects may share a name, model/kinds.py `shared_by`)."""
    shared = info(kind).shared_by
    return f" with the same {' and '.join(shared)}" if shared else ""


def duplicate_hint(kind: str) -> str:
    shared = info(kind).shared_by
    if shared:
        return f"give it other {' and '.join(shared)}, choose another name or remove one of the two"
    return "choose another name or remove one of the two"


def _where(item: Parsed) -> str:
    return str(item.source) if item.source is not None else str(item.ref)

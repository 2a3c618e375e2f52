"""Names that must be unique: object identity, and each kind's name field per customer.

The later object in input order is the duplicate, so appending a file never changes
which of the existing objects stays valid.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ObjectRef, Problem
from ..model import info, name_of
from .schema import Parsed


def check_unique(parsed: Sequence[Parsed]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[ObjectRef, Parsed] = {}
    seen_names: dict[tuple[str, str, str], Parsed] = {}
    key: tuple[str, str, str]
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
        key = (obj.kind, obj.spec.customer_id, name)
        path, what = f"spec.{kind.name_field}", f"{kind.noun} {name!r}"
        first = seen_names.get(key)
        if first is not None:
            problems.append(
                Problem(
                    path,
                    f"customer {key[1]!r} already has {what} ({first.ref})",
                    "choose another name or remove one of the two",
                ).at(ref, item.source)
            )
        else:
            seen_names[key] = item
    return problems


def _where(item: Parsed) -> str:
    return str(item.source) if item.source is not None else str(item.ref)

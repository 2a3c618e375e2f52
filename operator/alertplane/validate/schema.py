"""Documents → models: kind dispatch and pydantic errors turned into actionable problems."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ObjectRef, Problem, Source
from ..manifests import Document
from ..model import API_VERSION, KINDS, Resource
from ..model.common import in_secret_field
from .unicode import encodable, path_key, text_problem, text_problems


@dataclass(frozen=True)
class Parsed:
    obj: Resource
    source: Source | None = None

    @property
    def ref(self) -> ObjectRef:
        return ref_of(self.obj)


def ref_of(obj: Resource) -> ObjectRef:
    return ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)


def parse_documents(
    docs: Sequence[Document], rejected: list[Document] | None = None
) -> tuple[list[Parsed], list[Problem]]:
    """Models of the documents that parse; those that do not go to `rejected` if given."""
    parsed: list[Parsed] = []
    problems: list[Problem] = []
    for doc in docs:
        obj, found = parse_document(doc.data, doc.source)
        if obj is not None:
            parsed.append(Parsed(obj, doc.source))
        elif rejected is not None:
            rejected.append(doc)
        problems.extend(found)
    return parsed, problems


def parse_document(
    data: Any, source: Source | None = None
) -> tuple[Resource | None, list[Problem]]:
    if not isinstance(data, dict):
        return None, [
            Problem(
                "",
                f"expected a Kubernetes object (a mapping), got {_type_name(data)}",
                "each YAML document must have apiVersion, kind, metadata and spec",
                source=source,
            )
        ]
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None, [_unknown_kind(kind, source)]
    ref = _guess_ref(str(kind), data)
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        return None, [
            Problem(
                "apiVersion",
                "missing apiVersion"
                if api_version is None
                else f"unsupported apiVersion {_show(api_version)}",
                f"use apiVersion: {API_VERSION}",
                obj=ref,
                source=source,
            )
        ]
    # Before the models: a lone surrogate is no text any database or tool holds; refused
    # with its code point and place wherever it is (pydantic refused it only in bounded
    # fields, as "expected a string"). NUL is left to the models' own checks.
    unstorable = [] if encodable(data) else text_problems(data, nul=False)
    if unstorable:
        return None, [p.at(ref, source) for p in unstorable]
    try:
        # Manifest keys are the camelCase aliases only, as the generated CRDs enforce at
        # admission; the models' populate_by_name is for Python code building them.
        return model.model_validate(data, by_alias=True, by_name=False), []
    except ValidationError as exc:
        return None, [p.at(ref, source) for p in problems_from(exc, model)]


def _unknown_kind(kind: object, source: Source | None) -> Problem:
    if kind is None:
        return Problem(
            "kind", "missing kind", f"set kind to one of {', '.join(KINDS)}", source=source
        )
    close = difflib.get_close_matches(str(kind), list(KINDS), n=1, cutoff=0.6)
    *most, last = KINDS
    hint = (
        f"did you mean {close[0]}?" if close else f"alertplane reads {', '.join(most)} and {last}"
    )
    return Problem("kind", f"unknown kind {kind!r}", hint, source=source)


def _guess_ref(kind: str, data: dict[str, Any]) -> ObjectRef:
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return ObjectRef(
        kind,
        _ref_part(meta.get("namespace"), "default"),
        _ref_part(meta.get("name"), "<unnamed>"),
    )


def _ref_part(value: object, default: str) -> str:
    if not isinstance(value, str) or not value:
        return default
    # A newline or control character would split or garble the one line per problem.
    return value if value.isprintable() else repr(value)


def loc_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{path_key(part)}" if out else path_key(part)
    return out


def problems_from(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    errors = exc.errors(include_url=False)
    # A field written by its Python name (`customer_id`) is one mistake: report the unknown
    # key with its camelCase spelling, not also the camelCase field as missing.
    misspelt = {
        (*err["loc"][:-1], alias)
        for err in errors
        if err["type"] == "extra_forbidden"
        and (alias := _alias_of(model, tuple(err["loc"]))) is not None
    }
    return [
        _problem(err, tuple(err["loc"]), model)
        for err in errors
        if not (err["type"] == "missing" and tuple(err["loc"]) in misspelt)
    ]


def _problem(err: Any, loc: tuple[int | str, ...], model: type[BaseModel]) -> Problem:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    path = loc_path(loc)
    if kind == "alertplane":
        return Problem(path, ctx["message"], ctx.get("hint", ""))
    if kind == "invalid_key" or (kind == "string_type" and loc and loc[-1] == "[key]"):
        # A mapping key that YAML read as a number/bool (`1: x`); pydantic's loc ends in
        # the key itself (and then '[key]'), which is no field path a user can find.
        where = loc_path(loc[:-2] if loc[-1] == "[key]" else loc[:-1])
        return Problem(where, f"key {_show(value)} is not a string", "quote the key")
    if kind == "missing":
        return Problem(path, "required field is missing", f"add {loc[-1]}")
    if kind == "extra_forbidden":
        alias = _alias_of(model, loc)
        if alias is not None:
            return Problem(path, "unknown field", f"did you mean {alias}?")
        allowed = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        close = close or [a for a in allowed if a.lower() == str(loc[-1]).lower()]
        if close:
            return Problem(path, "unknown field", f"did you mean {close[0]}?")
        return Problem(path, "unknown field", f"remove it; allowed here: {', '.join(allowed)}")
    if kind == "enum":
        return Problem(
            path, f"{_show(value)} is not allowed", f"use one of {ctx.get('expected', '')}"
        )
    if kind == "literal_error":
        return Problem(path, f"{_show(value)} is not allowed", f"use {ctx.get('expected', '')}")
    if kind in ("too_short", "string_too_short"):
        return Problem(path, "must not be empty", "give at least one value")
    limit = _limit(kind, value, ctx)
    if limit is not None:
        return Problem(path, *limit)
    if kind == "string_unicode" and isinstance(value, str):
        unstorable = text_problem(path, value)
        if unstorable is not None:
            return unstorable
    expected = _EXPECTED.get(kind)
    if expected is not None:
        scalar = value is not None and not isinstance(value, list | dict)
        hint = "quote it" if expected == "a string" and scalar else f"write {expected} here"
        got = _kind_name(value) if in_secret_field(loc) else _type_name(value)
        return Problem(path, f"expected {expected}, got {got}", hint)
    return Problem(path, str(err.get("msg", "invalid value")), "fix this value")


def _limit(kind: str, value: object, ctx: dict[str, Any]) -> tuple[str, str] | None:
    """(message, hint) for a value beyond one of the models' size or range bounds."""
    if kind == "string_too_long":
        size = len(value) if isinstance(value, str) else "?"
        return f"too long ({size} characters): at most {ctx['max_length']} characters", (
            "shorten it"
        )
    if kind == "too_long":
        what = "entries" if isinstance(value, dict) else "items"
        size = ctx.get("actual_length") or (len(value) if isinstance(value, list | dict) else "?")
        return f"too many {what} ({size}): at most {ctx['max_length']}", f"remove some {what}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}", "choose a smaller number"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}", "choose a larger number"
    return None


_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "finite_number": "an integer",
    "int_parsing_size": "an integer",
    "string_unicode": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _show(value: object) -> str:
    """A YAML scalar as the user wrote it: null/true/false rather than Python's spelling."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _kind_name(value: object) -> str:
    """What a value in a secret field is, without any of it."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return _type_name(value)
    return "a number" if isinstance(value, int | float) else _type_name(value)


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names (as written in YAML) allowed at `loc`, for did-you-mean hints."""
    current = _model_at(model, loc)
    return [] if current is None else [f.alias or n for n, f in current.model_fields.items()]


def _alias_of(model: type[BaseModel], loc: tuple[int | str, ...]) -> str | None:
    """The YAML spelling of the field whose Python name ends `loc`, if that differs."""
    current = _model_at(model, loc[:-1])
    field = None if current is None else current.model_fields.get(str(loc[-1]))
    if field is None or not field.alias or field.alias == loc[-1]:
        return None
    return field.alias


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the fields at `loc` (a path of YAML keys and list indexes)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """list[X] / X | None / Annotated[X, ...] → X, so a path can walk into it."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (list, typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp

"""Pydantic JSON schema → Kubernetes structural schema (the body of a CRD's openAPIV3Schema).

Pure and generic: nothing here knows the alertplane kinds; crds.py applies it to them.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

# JSON-schema keywords that carry over to a structural schema unchanged.
_KEEP = frozenset(
    {
        "type",
        "description",
        "enum",
        "pattern",
        "format",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "required",
        # CEL rules a model type carries itself (e.g. the duration bound, model/common.py).
        "x-kubernetes-validations",
    }
)
# Keywords Kubernetes does not support or that mean nothing to it; dropping them loses no
# check the API server could make (`additionalProperties: false` is what pruning and
# strict field validation do anyway).
_DROP = frozenset({"title", "examples", "$schema", "$defs"})


class SchemaError(ValueError):
    """The pydantic schema uses something the converter does not know how to translate."""


def structural(schema: Schema) -> Schema:
    """A pydantic JSON schema (by_alias) as a Kubernetes structural schema.

    $refs are inlined, `anyOf: [X, null]` becomes X with `nullable: true`, titles go,
    descriptions/enums/patterns/lengths/required stay, null defaults are dropped. A model
    with named fields plus typed free keys becomes a map whose description names the keys.
    Anything else unknown raises SchemaError, so a model change cannot slip through
    untranslated.
    """
    return _convert(schema, schema.get("$defs", {}), "")


def _convert(node: Schema, defs: dict[str, Schema], path: str) -> Schema:
    node = dict(node)
    if "$ref" in node:
        target = _resolve(node.pop("$ref"), defs)
        return _convert({**target, **node}, defs, path)  # siblings of $ref win
    if "allOf" in node:
        parts = node.pop("allOf")
        if len(parts) != 1:
            raise SchemaError(f"{path or '.'}: allOf with {len(parts)} members")
        return _convert({**_deref(parts[0], defs), **node}, defs, path)
    if "anyOf" in node:
        members = [m for m in node.pop("anyOf") if m != {"type": "null"}]
        if len(members) != 1:
            raise SchemaError(f"{path or '.'}: anyOf other than [X, null]")
        inner = _convert({**_deref(members[0], defs), **node}, defs, path)
        return ordered({**inner, "nullable": True})

    out: Schema = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key in _KEEP:
            out[key] = copy.deepcopy(value)
        elif key == "default":
            if value is not None:  # a null default is "absent", which needs no default
                out[key] = copy.deepcopy(value)
        elif key == "properties":
            out[key] = {k: _convert(v, defs, f"{path}.{k}") for k, v in value.items()}
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            # JSON Schema's numeric bound is OpenAPI v3.0's (Kubernetes') bound plus a flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "items":
            out[key] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = _convert(value, defs, f"{path}.*")
            # False: unknown fields are pruned, or refused with strict field validation.
        else:
            raise SchemaError(f"{path or '.'}: unsupported JSON-schema keyword {key!r}")
    if "properties" in out and "additionalProperties" in out:
        out = _as_map(out)
    return ordered(out)


# The order keys are written in: what a reviewer reads first, nested structure last.
_ORDER = (
    "type", "description", "nullable", "format", "enum", "pattern", "minLength", "maxLength",
    "minItems", "maxItems", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
    "minProperties", "maxProperties", "default",
    "required", "properties", "items", "additionalProperties",
)  # fmt: skip


def ordered(node: Schema) -> Schema:
    rank = {k: i for i, k in enumerate(_ORDER)}
    return dict(sorted(node.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _as_map(node: Schema) -> Schema:
    # Structural schemas forbid properties next to additionalProperties. When every named
    # field has the free keys' type, a map of that type checks the same; its description
    # keeps the named fields' documentation for `kubectl explain`.
    value = node["additionalProperties"]
    for name, prop in node["properties"].items():
        if prop.get("type") != value.get("type"):
            raise SchemaError(f"field {name!r} does not share the free keys' type")
    known = "; ".join(
        f"{name}: {prop.get('description', '').rstrip('.')}"
        for name, prop in node["properties"].items()
    )
    text = node.get("description", "").rstrip(".")
    out = {k: v for k, v in node.items() if k not in ("properties", "required", "description")}
    out["description"] = f"{text}. Known keys — {known}." if text else f"Known keys — {known}."
    return out


def _resolve(ref: str, defs: dict[str, Schema]) -> Schema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise SchemaError(f"unresolvable $ref {ref!r}")
    return defs[ref[len(prefix) :]]


def _deref(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in node:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_resolve(node["$ref"], defs), **rest}
    return node


def at(schema: Schema, path: str) -> Schema:
    """The sub-schema at a dotted path; `[]` steps into array items (`slack[]`)."""
    node = schema
    for step in filter(None, path.split(".")):
        name, items = (step[:-2], True) if step.endswith("[]") else (step, False)
        props = node.get("properties", {})
        if name not in props:
            raise SchemaError(f"no field {name!r} on the way to {path!r}")
        node = props[name]
        if items:
            node = node["items"]
    return node

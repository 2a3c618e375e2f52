"""Many objects at once: validate (dry run), import (all or nothing), export.

Bodies are YAML (multi-document, `kind: List`) or JSON (one object, an array, or a
List), read by the same loader as `alertplane validate -f`. A customer token may only
send objects of its own customer, in its own namespaces; anything else is refused naming
only the offending document, never what exists elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import WRITE, Outcome, Taken, admit, evaluate, taken
from ..errors import Forbidden, Invalid, ObjectRef, Problem, Source
from ..manifests import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    TOO_DEEP_HINT,
    Document,
    Loaded,
    load_text,
    too_deep,
)
from .access import export_scope
from .context import Context
from .objects import bad_text
from .tokens import Principal
from .toolslots import tool_slot

SOURCE_NAME = "body"
JSON_TYPES = ("application/json",)


@dataclass
class Report:
    applied: bool
    changes: list[dict[str, Any]]
    problems: list[Problem]


def _own(customer: str) -> str:
    return customer


def load_body(raw: bytes, content_type: str, namespace_for: Callable[[str], str] = _own) -> Loaded:
    """`namespace_for`: a customer's namespace for documents that name none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Loaded([], [Problem("", "the body is not UTF-8 text", "send UTF-8")])
    if content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        loaded = load_text(text, SOURCE_NAME)
    else:
        loaded = _load_json(text)
    docs = []
    for doc in loaded.documents:
        bad = bad_text(doc.data, root="")
        if bad:
            loaded.problems.extend(p.at(source=doc.source) for p in bad)
        else:
            docs.append(_default_namespace(doc, namespace_for))
    return Loaded(docs, loaded.problems)


class _LongInt(ValueError):
    pass


def _json_int(digits: str) -> int:
    if len(digits) > _MAX_INT_DIGITS:
        raise _LongInt(digits)
    return int(digits)


# Python refuses to convert longer digit strings (sys.get_int_max_str_digits()).
_MAX_INT_DIGITS = 4300


def _load_json(text: str) -> Loaded:
    """The same limits as the YAML loader (manifests.py): nesting, documents, numbers."""
    try:
        data = json.loads(text, parse_int=_json_int)
    except _LongInt as exc:
        line = text.count("\n", 0, text.find(str(exc))) + 1
        return _refused(
            f"an integer with {len(str(exc))} digits is longer than can be read",
            "quote the value if it is text, or correct it",
            line,
        )
    except RecursionError:
        return _refused(f"nesting deeper than {MAX_DEPTH} levels", TOO_DEEP_HINT)
    except ValueError as exc:
        return Loaded([], [Problem("", f"the body is not valid JSON: {exc}", "send JSON or YAML")])
    if (text.count("[") + text.count("{") > MAX_DEPTH) and too_deep(data):
        return _refused(f"nesting deeper than {MAX_DEPTH} levels", TOO_DEEP_HINT)
    if (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        data = data["items"]
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_DOCUMENTS:
        return _refused(
            f"more than {MAX_DOCUMENTS} documents",
            f"split the body into parts of at most {MAX_DOCUMENTS} objects",
        )
    return Loaded([Document(Source(SOURCE_NAME, i), d) for i, d in enumerate(items, 1)], [])


def _refused(message: str, hint: str, line: int = 0) -> Loaded:
    return Loaded([], [Problem("", message, hint, source=Source(SOURCE_NAME, 0, line))])


def _default_namespace(doc: Document, namespace_for: Callable[[str], str]) -> Document:
    """Like the single-object routes: no namespace means the customer's own."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        return doc
    spec = data.get("spec")
    cid = spec.get("customerId") if isinstance(spec, dict) else None
    if "namespace" in data["metadata"] or not isinstance(cid, str):
        return doc
    meta = {**data["metadata"], "namespace": namespace_for(cid)}
    return dataclasses.replace(doc, data={**data, "metadata": meta})


def foreign(ctx: Context, who: Principal, docs: list[Document]) -> list[Problem]:
    """Documents a customer token may not send (empty for admins)."""
    if who.customer is None:
        return []
    own = {who.customer, ctx.writer.namespace_for(who.customer)}
    allowed = own | ctx.bound(who.customer).namespaces_of(who.customer)
    problems = []
    for doc in docs:
        data = _mapping(doc.data)
        spec, meta = _mapping(data.get("spec")), _mapping(data.get("metadata"))
        cid, namespace = spec.get("customerId"), meta.get("namespace", "default")
        if isinstance(cid, str) and cid != who.customer:
            problems.append(
                Problem(
                    "spec.customerId",
                    "this document is not of the token's customer",
                    f"send only objects of customer {who.customer}",
                    source=doc.source,
                )
            )
        elif isinstance(namespace, str) and namespace not in allowed:
            problems.append(
                Problem(
                    "metadata.namespace",
                    "the token may not write objects in this namespace",
                    f"use namespace {ctx.writer.namespace_for(who.customer)}",
                    source=doc.source,
                )
            )
    return problems


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check(ctx: Context, who: Principal, loaded: Loaded, tools: bool) -> Outcome:
    """Validate like `alertplane validate` (and against the names already stored, as
    /import would); 403 for documents of another customer."""
    refused = foreign(ctx, who, loaded.documents)
    if refused:
        raise Forbidden("the body holds documents this token may not send", refused)
    # What /import would say: the names the store already has count too.
    existing = _taken(ctx, loaded.documents)
    with tool_slot(who, tools):
        return evaluate(loaded.documents, ctx.platform, tools, loaded.problems, existing)


def import_objects(ctx: Context, who: Principal, loaded: Loaded, tools: bool) -> Report:
    """All or nothing, admitted like every write (core.admit, WRITE): any schema or check
    problem refuses the whole body; with `tools`, what only promtool/amtool find is
    reported in the answer but imported (the reconciler marks those objects Invalid)."""
    refused = foreign(ctx, who, loaded.documents)
    if refused:
        raise Forbidden("the body holds documents this token may not send", refused)
    _owned(ctx, who, loaded.documents)
    with tool_slot(who, tools):  # spec.tests and the other tool checks: bounded
        admission = admit(
            loaded.documents,
            WRITE.with_tools(tools),
            ctx.platform,
            existing=_taken(ctx, loaded.documents),
            earlier=loaded.problems,
        )
    problems = list(admission.refused)
    if not admission.parsed and not problems:
        problems.append(Problem("", "no objects in the body", "send CustomerAlert/Receivers"))
    if problems:
        return Report(False, [], problems)
    try:
        # Only an admin may move an object to another customer: a customer token's import
        # must not replace another customer's object (one the lagging mirror did not show).
        writer = ctx.mover if who.is_admin else ctx.writer
        changes = writer.apply(admission.admitted, who.name, "import")
    except Invalid as refused_by_server:  # Kubernetes mode: the API server refused one
        return Report(False, [], refused_by_server.problems)
    return Report(
        True,
        [
            {
                "kind": c.ref.kind,
                "namespace": c.ref.namespace,
                "name": c.ref.name,
                "action": c.action,
                "generation": c.generation,
            }
            for c in changes
        ],
        admission.marked,
    )


def _owned(ctx: Context, who: Principal, docs: list[Document]) -> None:
    """A customer token may not take an identity another customer's object has (403)."""
    if who.customer is None:
        return
    refs: dict[Any, Document] = {}
    for doc in docs:
        ref = _ref_of(doc.data)
        if ref is not None:
            refs.setdefault(ref, doc)
    owners = ctx.store.owners(refs)
    problems = [
        Problem(
            "metadata.name",
            "the name is taken by an object this token cannot change",
            "choose another metadata.name",
            source=doc.source,
        )
        for ref, doc in refs.items()
        if owners.get(ref, who.customer) != who.customer
    ]
    if problems:
        raise Forbidden("the body holds documents this token may not send", problems)


def _ref_of(data: Any) -> ObjectRef | None:
    data = _mapping(data)
    meta = _mapping(data.get("metadata"))
    kind, ns, name = data.get("kind"), meta.get("namespace", "default"), meta.get("name")
    if isinstance(kind, str) and isinstance(ns, str) and isinstance(name, str):
        return ObjectRef(kind, ns, name)
    return None


def _taken(ctx: Context, docs: list[Document]) -> list[Taken]:
    """Names the body's customers already have (only objects in namespaces bound to
    their customer take its names, kube/namespaces.py)."""
    customers = sorted(
        {
            c
            for d in docs
            if isinstance(c := _mapping(_mapping(d.data).get("spec")).get("customerId"), str)
        }
    )
    return taken(s for c in customers for s in ctx.bound(c).get(customer=c))


def export(ctx: Context, who: Principal, customer: str | None) -> list[dict[str, Any]]:
    """Every object `who` may see (only `customer`'s when given), as manifests without
    status, ready for /import."""
    items = ctx.reads(who).get(customer=export_scope(who, customer))
    out = []
    for stored in items:
        manifest = stored.manifest(with_status=False)
        manifest["metadata"].pop("generation", None)
        out.append(manifest)
    return out

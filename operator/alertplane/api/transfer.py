"""Many objects at once: validate (dry run), import (all or nothing), export.

Bodies are YAML (multi-document, `kind: List`) or JSON (one object, an array, or a
List), read by the same loader as `alertplane validate -f`. A customer token may only
send objects of its own customer, in its own namespaces; anything else is refused naming
only the offending document, never what exists elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core import Outcome, evaluate
from ..errors import Problem, Source
from ..manifests import Document, Loaded, load_text
from ..model import CustomerAlert
from ..store.repo import Stored
from .context import Context
from .errors import Forbidden, Invalid
from .objects import NAME_KEY, bad_text
from .tokens import Principal

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


def _load_json(text: str) -> Loaded:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return Loaded([], [Problem("", "the body is not valid JSON", "send JSON or YAML")])
    if (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        data = data["items"]
    items = data if isinstance(data, list) else [data]
    return Loaded([Document(Source(SOURCE_NAME, i), d) for i, d in enumerate(items, 1)], [])


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
    return Document(doc.source, {**data, "metadata": meta})


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
    """Validate like `alertplane validate`; 403 for documents of another customer."""
    refused = foreign(ctx, who, loaded.documents)
    if refused:
        raise Forbidden("the body holds documents this token may not send", refused)
    return evaluate(loaded.documents, ctx.platform, tools=tools, earlier=loaded.problems)


def import_objects(ctx: Context, who: Principal, loaded: Loaded, tools: bool) -> Report:
    outcome = check(ctx, who, loaded, tools)
    problems = list(outcome.problems)
    if not outcome.parsed and not problems:
        problems.append(Problem("", "no objects in the body", "send CustomerAlert/Receivers"))
    if not problems:
        problems = _against_store(ctx, who, outcome)
    if problems:
        return Report(False, [], problems)
    try:
        # Only an admin may move an object to another customer: a customer token's import
        # must not replace another customer's object (one the lagging mirror did not show).
        writer = ctx.mover if who.is_admin else ctx.writer
        changes = writer.apply([p.obj for p in outcome.parsed], who.name, "import")
    except Invalid as refused:  # Kubernetes mode: the API server refused one (nothing kept)
        return Report(False, [], refused.problems)
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
        [],
    )


def _against_store(ctx: Context, who: Principal, outcome: Outcome) -> list[Problem]:
    """Names the import would duplicate, and (customer tokens) identities it may not take."""
    refs = {p.ref for p in outcome.parsed}
    problems: list[Problem] = []
    if who.customer is not None:
        owners = ctx.store.owners(refs)
        for item in outcome.parsed:
            if owners.get(item.ref, who.customer) != who.customer:
                problems.append(
                    Problem(
                        "metadata.name",
                        "the name is taken by an object this token cannot change",
                        "choose another metadata.name",
                        source=item.source,
                    )
                )
        if problems:
            raise Forbidden("the body holds documents this token may not send", problems)
    customers = sorted({p.obj.spec.customer_id for p in outcome.parsed})
    taken: dict[tuple[str, str, str], Stored] = {}
    # Only objects in namespaces bound to their customer take its names (api/tenancy.py).
    existing = [s for c in customers for s in ctx.bound(c).get(customer=c)]
    for stored in existing:
        key = NAME_KEY[stored.row.kind]
        name = stored.row.spec.get(key)
        if isinstance(name, str) and stored.ref not in refs:
            taken.setdefault((stored.row.kind, stored.row.customer_id, name), stored)
    for item in outcome.parsed:
        obj = item.obj
        name = obj.spec.alert_name if isinstance(obj, CustomerAlert) else obj.spec.receiver_name
        other = taken.get((obj.kind, obj.spec.customer_id, name))
        if other is not None:
            problems.append(
                Problem(
                    f"spec.{NAME_KEY[obj.kind]}",
                    f"customer {obj.spec.customer_id!r} already has {name!r} ({other.ref})",
                    "choose another name, or import the existing object under its own name",
                ).at(item.ref, item.source)
            )
    return problems


def export(ctx: Context, who: Principal, customer: str | None) -> list[dict[str, Any]]:
    items = ctx.reads(who).get(customer=customer)
    out = []
    for stored in items:
        manifest = stored.manifest(with_status=False)
        manifest["metadata"].pop("generation", None)
        out.append(manifest)
    return out

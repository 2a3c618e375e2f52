"""`POST /diff`: what an /import of the body would change (service/diff.py), for a token.

A customer token diffs only its own customer's objects: a document of another customer,
in a namespace not its own, or at an identity another customer's object holds is
refused (403, naming only the document), so that no answer ever shows another
customer's spec, rule file or routes. An admin's diff also shows an object of another
customer at a document's identity (the import would move it).
"""

from __future__ import annotations

from typing import Any

from ..errors import Forbidden, Problem
from ..manifests import Loaded
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..model.secrets import redact
from ..store.secrets import extract_secrets
from ..validate import parse_documents
from .context import Context
from .diff import DiffReport, Normalize, compare, customers_named
from .tokens import Principal
from .toolslots import tool_slot
from .transfer import foreign

MAY_NOT_SEND = "the body holds documents this token may not send"


def diff_body(ctx: Context, who: Principal, loaded: Loaded, prune: bool, tools: bool) -> DiffReport:
    refused = foreign(ctx, who, loaded.documents)
    if refused:
        raise Forbidden(MAY_NOT_SEND, refused)
    customers = customers_named(loaded.documents)
    current: dict[Any, ObjectRecord] = {}
    for customer in customers:
        for rec in ctx.bound(customer).get(customer=customer):
            current[rec.ref] = rec
    parsed, _ = parse_documents(loaded.documents)
    refs = {p.ref: p for p in parsed}
    others = ctx.store.owners(refs)
    taken = [
        Problem(
            "metadata.name",
            "the name is taken by an object this token cannot change",
            "choose another metadata.name",
            source=refs[ref].source,
        )
        for ref, owner in others.items()
        if who.customer is not None and owner != who.customer
    ]
    if taken:
        raise Forbidden(MAY_NOT_SEND, taken)
    for ref in others:  # an admin's import would move these: shown as changed
        moved = None if ref in current else ctx.store.find(ref)
        if moved is not None:
            current[ref] = moved
    with tool_slot(who, tools):  # spec.tests and the other tool checks: bounded
        return compare(
            list(current.values()),
            loaded.documents,
            ctx.platform,
            normalize=_normalize(ctx),
            prune=prune,
            tools=tools,
            earlier=loaded.problems,
        )


def _normalize(ctx: Context) -> Normalize:
    """A spec as this mode's store holds it: standalone, clear secrets become references
    (store/changes.py); in Kubernetes mode the mirror keeps them redacted."""
    kubernetes = ctx.reconciler is None

    def normalize(obj: Any) -> dict[str, Any]:
        spec = dump_spec(obj.spec)
        if kubernetes:
            return redact(spec) or {}
        meta = obj.metadata
        return extract_secrets(obj.kind, meta.name, spec, meta.namespace)[0]

    return normalize

"""Create, read, update, delete and roll back one kind of object of one customer.

Alerts and receivers differ only in their kind and name field, so both routers call
these. Reads come from the store; every write goes through the context's writer (the
store and the reconciler, or the custom resources in Kubernetes mode: see writers.py).
"""

from __future__ import annotations

import random
import time
from typing import Any

from ..errors import Conflict, Invalid, NotFound, ObjectRef, PreconditionFailed, Problem
from ..kube.answers import already_exists
from ..model import CustomerAlert, Resource, info, name_of
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..store.repo import Change
from ..store.secrets import extract_secrets
from ..store.txn import EXISTS, Expect, Read, Stale
from .access import Access
from .context import Context, plausible
from .objects import (
    ALERT,
    NAME_KEY,
    alert_path,
    build,
    object_name,
    segment,
    spec_name,
    view,
)
from .preconditions import refusal

SOURCE = "api"
NAME = "alertName"
# A PATCH without If-Match re-reads and retries this often when others wrote meanwhile.
PATCH_ATTEMPTS = 30


def what(kind: str) -> str:
    return info(kind).noun


def _present(stored: ObjectRecord | None, ref: ObjectRef) -> dict[str, Any]:
    if stored is None:  # deleted by someone else between the write and the read
        raise NotFound(f"{what(ref.kind)} not found")
    return view(stored)


def list_objects(ctx: Context, access: Access, kind: str) -> list[dict[str, Any]]:
    items = ctx.reads(access).get(kind=kind, customer=access.customer)
    if not items:
        ctx.require_known(access)
    return [view(s) for s in items]


def get_object(
    ctx: Context, access: Access, kind: str, name: str, *, severity: str | None = None
) -> dict[str, Any]:
    return view(ctx.lookup(kind, access, name, read=True, severity=severity))


def create(ctx: Context, access: Access, kind: str, body: Any) -> dict[str, Any]:
    name = spec_name(body, kind)
    namespace = ctx.writer.namespace_for(access.customer)
    ref = ObjectRef(kind, namespace, object_name(access.customer, name or kind.lower()))
    obj, problems = build(kind, access.customer, body, ref, platform=ctx.platform)
    if obj is None:
        raise Invalid(problems)
    spec_key = name_of(obj)
    severity = obj.spec.severity.value if isinstance(obj, CustomerAlert) else None
    # Only objects in namespaces bound to the customer take its names (kube/namespaces.py).
    bound = ctx.bound(access.customer)
    named, taken = bound.find_named_or_at(kind, access.customer, spec_key, ref, severity)
    if named is not None:
        raise Conflict(already_exists(obj))
    salted = object_name(access.customer, spec_key, salted=True)
    if taken is not None:  # the name is taken by another object: its pair, or another name
        partner = taken.customer_id == access.customer and taken.spec.get(NAME) == spec_key
        if partner and severity is not None:
            salted = object_name(access.customer, spec_key, severity=severity)
        ref = ObjectRef(kind, ref.namespace, salted)
        if bound.find(ref) is not None:
            raise Conflict(f"no free object name for {_named(kind, spec_key, severity)}")
        obj = _renamed(obj, ref.name)
    # Only ever a create: the mirror checked above may lag behind the cluster (and other
    # customers' objects can share a name), so the writer never replaces what it finds.
    change = ctx.writer.create(obj, access.actor, SOURCE, fallback=salted)
    if change.ref.name != obj.metadata.name:
        obj = _renamed(obj, change.ref.name)
    return _outcome(ctx, obj, change, None)


def path_of(ctx: Context, access: Access, out: dict[str, Any]) -> str:
    """The REST path of a written object (Location): an alert of a pair carries its
    severity (objects.alert_path), so the link never answers 409."""
    kind, spec = out["kind"], out["spec"]
    name = str(spec[NAME_KEY[kind]])
    if kind != ALERT:
        return f"/customers/{access.customer}/{info(kind).rest}/{segment(name)}"
    found = ctx.bound(access.customer).named(ALERT, access.customer, name)
    pair = len({f.spec.get("severity") for f in found}) > 1
    return alert_path(access.customer, name, str(spec["severity"]), pair)


def _outcome(
    ctx: Context, obj: Resource, change: Change, before: ObjectRecord | None
) -> dict[str, Any]:
    """The response to a write, built from what was written (the status is Pending until
    the reconciler looks at the new generation): a write costs no extra read."""
    if change.action not in ("created", "configured"):
        return _present(ctx.store.find(change.ref), change.ref)
    spec, _ = extract_secrets(
        obj.kind, obj.metadata.name, dump_spec(obj.spec), obj.metadata.namespace
    )
    written = ObjectRecord(
        ref=change.ref,
        serial=0,
        customer_id=obj.spec.customer_id,
        generation=change.generation,
        labels=dict(obj.metadata.labels),
        spec=spec,
        status=before.status if before is not None else None,
    )
    return view(written)


def _named(kind: str, name: str, severity: str | None) -> str:
    """`alert 'X' at severity 'critical'`: what a refusal of an alert names (its identity
    within the customer is the name and the severity, validate/unique.py)."""
    if severity is None:
        return f"{what(kind)} {name!r}"
    return f"{what(kind)} {name!r} at severity {severity!r}"


def _renamed(obj: Resource, name: str) -> Resource:
    meta = obj.metadata.model_copy(update={"name": name})
    return obj.model_copy(update={"metadata": meta})


def update(
    ctx: Context,
    access: Access,
    kind: str,
    name: str,
    body: Any,
    if_match: int | None = None,
    *,
    severity: str | None = None,
) -> dict[str, Any]:
    current = ctx.lookup(kind, access, name, severity=severity)
    # Without If-Match the new spec replaces whatever generation is newest (EXISTS).
    return _store(ctx, access, current, body, name, EXISTS if if_match is None else if_match)


def set_enabled(
    ctx: Context,
    access: Access,
    name: str,
    enabled: bool,
    if_match: int | None = None,
    kind: str = ALERT,
    *,
    severity: str | None = None,
) -> dict[str, Any]:
    """The read spec with `enabled` changed, written only onto the object as read: a change
    made meanwhile is never overwritten with the old spec. Without If-Match, read again
    and retried; with it, 412."""
    for attempt in range(PATCH_ATTEMPTS):
        current = ctx.lookup(kind, access, name, severity=severity)
        spec = {**current.spec, "enabled": enabled}
        expected = read_of(current) if if_match is None else if_match
        try:
            # Disabling is always possible, even for an alert that became invalid.
            return _store(ctx, access, current, spec, name, expected, semantic=enabled)
        except PreconditionFailed:
            if if_match is not None:
                raise
        time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
    raise Conflict(
        f"{what(kind)} {name!r} was changed by other writers {PATCH_ATTEMPTS} times while this "
        "change was made; retry"
    )


def read_of(current: ObjectRecord) -> Read:
    """The precondition of a write computed from `current` (not its generation alone: an
    object deleted and created again is at generation 1, 2… again, with another spec)."""
    return Read(current.generation, current.spec, current.labels)


def _store(
    ctx: Context,
    access: Access,
    current: ObjectRecord,
    spec: Any,
    path_name: str,
    expected: Expect,
    semantic: bool = True,
) -> dict[str, Any]:
    ref = current.ref
    obj, problems = build(
        ref.kind,
        access.customer,
        spec,
        ref,
        labels=dict(current.labels),
        path_name=path_name,
        platform=ctx.platform,
        semantic=semantic,
    )
    if obj is None:
        raise Invalid(problems)
    _keeps_identity(ctx, access, current, obj)
    try:  # the precondition is checked last, as HTTP orders it (after 404 and 422)
        (change,) = ctx.writer.apply([obj], access.actor, SOURCE, {ref: expected})
    except Stale as exc:
        raise refusal(what(ref.kind), path_name, exc) from None
    return _outcome(ctx, obj, change, current)


def _keeps_identity(ctx: Context, access: Access, current: ObjectRecord, obj: Resource) -> None:
    """A changed severity must not take the identity of the alert's pair partner."""
    if not isinstance(obj, CustomerAlert):
        return
    name, severity = obj.spec.alert_name, obj.spec.severity.value
    if current.spec.get("severity") == severity and current.spec.get(NAME) == name:
        return
    other = ctx.bound(access.customer).find_named(ALERT, access.customer, name, severity)
    if other is not None and other.ref != current.ref:
        raise Conflict(
            f"{_named(ALERT, name, severity)} exists already ({other.ref}); a pair of "
            "alerts with one name needs two severities"
        )


def delete(
    ctx: Context,
    access: Access,
    kind: str,
    name: str,
    if_match: int | None = None,
    *,
    severity: str | None = None,
) -> None:
    current = ctx.lookup(kind, access, name, severity=severity)
    try:
        ctx.writer.delete(current.ref, access.actor, SOURCE, if_match)
    except Stale as exc:
        raise refusal(what(kind), name, exc) from None


def rollback(
    ctx: Context,
    access: Access,
    kind: str,
    name: str,
    version: int,
    if_match: int | None = None,
    *,
    severity: str | None = None,
) -> dict[str, Any]:
    current = ctx.lookup(kind, access, name, severity=severity)
    ref = current.ref
    expected = EXISTS if if_match is None else if_match
    spec = ctx.store.version(ref, version)
    if spec is None:
        raise NotFound(f"{what(kind)} has no version {version}")
    if spec.get("customerId") != access.customer:
        raise Invalid(
            [
                Problem(
                    "version",
                    f"version {version} belongs to another customer",
                    "choose a version of this customer",
                ).at(ref)
            ]
        )
    obj, problems = build(
        kind, access.customer, spec, ref, dict(current.labels), platform=ctx.platform
    )
    if obj is None:
        raise Invalid(problems, f"version {version} is not valid any more")
    restored = spec_name(spec, kind)
    if kind != ALERT and restored is not None and restored != name:  # alerts: below
        other = ctx.bound(access.customer).find_named(kind, access.customer, restored)
        if other is not None and other.ref != ref:
            raise Conflict(f"version {version} is named {restored!r}, which another object has")
    _keeps_identity(ctx, access, current, obj)
    try:
        ctx.writer.rollback(ref, version, obj, access.actor, "rollback", expected)
    except Stale as exc:
        raise refusal(what(kind), name, exc) from None
    return _present(ctx.store.find(ref), ref)


def audit(ctx: Context, access: Access, name: str | None, limit: int) -> list[dict[str, Any]]:
    """The customer's changes, oldest first (only object `name`'s when given)."""
    if name is not None and not plausible(name):  # no such name can be stored
        ctx.require_known(access)
        return []
    rows = ctx.reads(access).history(customer=access.customer, name=name, limit=limit)
    if not rows:
        ctx.require_known(access)
    out = []
    for row in rows:
        before, after = (
            # Moves start a fresh object (store.changes.Changes._move), so no row should carry
            # another customer's spec; kept as a second line of defence (older rows).
            spec if spec is None or spec.get("customerId") == access.customer else None
            for spec in (row.before, row.after)
        )
        out.append(
            {
                "id": row.id,
                "time": row.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "action": row.action,
                "kind": row.kind,
                "namespace": row.namespace,
                "name": row.name,
                "customerId": row.customer_id,
                "generation": row.generation,
                "before": before,
                "after": after,
                "actor": row.actor,
                "source": row.source,
            }
        )
    return out

"""Customer-wide operations: overview, routing of all receivers, route test, firing alerts
(one customer's, or the count per customer)."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from ..errors import Conflict, Invalid, ObjectRef, Problem, UpstreamFailed
from ..model import TABLE, CustomerReceiver, CustomerReceiverSpec, Resource
from ..render.alertmanager import render_alertmanager
from ..routing import receivers_for
from ..store.txn import Read, Stale
from ..validate import Parsed, parse_document, validate_objects
from .access import Access
from .alertmanagers import alertmanager_alerts
from .context import Context
from .crud import PATCH_ATTEMPTS, SOURCE, read_of
from .objects import RECEIVER, bad_text, build, view
from .tokens import Principal

log = logging.getLogger("alertplane.api")
TENANT_LABEL = "customer_id"


def visible(ctx: Context, who: Principal) -> list[str]:
    """The customers `who` may see: an admin every customer known, a customer token its own."""
    return ctx.store.known_customers() if who.customer is None else [who.customer]


def overview(ctx: Context, who: Principal, customers: list[str]) -> list[dict[str, Any]]:
    counts = ctx.reads(who).customer_counts(customers)
    out = []
    for cid in customers:
        per = counts.get(cid, {})
        phases: dict[str, int] = {}
        for (_, phase), n in per.items():
            phases[phase] = phases.get(phase, 0) + n
        out.append(
            {
                "customerId": cid,
                **{k.rest: sum(n for (kind, _), n in per.items() if kind == k.kind) for k in TABLE},
                "phases": dict(sorted(phases.items())),
            }
        )
    return out


def set_routes(ctx: Context, access: Access, body: Any) -> list[dict[str, Any]]:
    """Replace spec.route of the named receivers, all in one transaction (all or none)."""
    ctx.require_known(access)
    routes = body.get("routes") if isinstance(body, dict) else None
    if not isinstance(routes, dict):
        raise Invalid(
            [Problem("routes", "expected a mapping receiverName → route", 'send {"routes": {}}')]
        )
    bad = bad_text(body, root="")
    if bad:
        raise Invalid(bad)
    # Each receiver's spec as read with its route replaced, written only onto the receiver
    # as read: a change made meanwhile is never overwritten; read again and retried instead.
    for attempt in range(PATCH_ATTEMPTS):
        objects, expected = _routed(ctx, access, body, routes)
        try:
            ctx.writer.apply(objects, access.actor, SOURCE, expected)
            break
        except Stale:
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
    else:
        raise Conflict(
            f"the receivers were changed by other writers {PATCH_ATTEMPTS} times while this "
            "change was made; retry"
        )
    out = []
    for obj in objects:
        ref = Parsed(obj).ref
        stored = ctx.store.find(ref)
        if stored is not None:
            out.append(view(stored))
    return out


def _routed(
    ctx: Context, access: Access, body: dict[str, Any], routes: dict[str, Any]
) -> tuple[list[Resource], dict[ObjectRef, Read]]:
    """The receivers with their new routes, and each as it was read (crud.read_of)."""
    problems = [
        Problem(key, "unknown field", "send only routes") for key in body if key != "routes"
    ]
    objects: list[Resource] = []
    expected: dict[ObjectRef, Read] = {}
    for name, route in routes.items():
        current = ctx.bound(access.customer).find_named(RECEIVER, access.customer, name)
        if current is None:
            problems.append(
                Problem(
                    f"routes.{name}",
                    "the customer has no receiver of this name",
                    "create it first; GET …/receivers lists them",
                )
            )
            continue
        spec = {**current.spec, "route": route}
        obj, found = build(
            RECEIVER,
            access.customer,
            spec,
            current.ref,
            labels=dict(current.labels),
            path_name=name,
            platform=ctx.platform,
        )
        problems.extend(found)
        if obj is not None:
            objects.append(obj)
            expected[current.ref] = read_of(current)
    if problems:
        raise Invalid(problems)
    return objects, expected


def route_test(ctx: Context, access: Access, labels: dict[str, str]) -> dict[str, Any]:
    """Where an alert with `labels` goes, from the customer's receivers as stored (the
    ones that pass validation), rendered like the reconciler renders them."""
    ctx.require_known(access)
    bad = bad_text(labels, root="labels")
    if bad:
        raise Invalid(bad)
    if labels.get(TENANT_LABEL, access.customer) != access.customer:
        raise Invalid(
            [
                Problem(
                    f"labels.{TENANT_LABEL}",
                    "must be the customer of the path",
                    "leave it out; the path names the customer",
                )
            ]
        )
    labels = {**labels, TENANT_LABEL: access.customer}
    specs: list[tuple[str, CustomerReceiverSpec]] = []
    # What the operator renders: only receivers in namespaces bound to the customer.
    for stored in ctx.bound(access.customer).get(kind=RECEIVER, customer=access.customer):
        obj, _ = parse_document(stored.manifest(with_status=False))
        if isinstance(obj, CustomerReceiver) and not validate_objects([Parsed(obj)]):
            specs.append((stored.namespace, obj.spec))
    config = render_alertmanager({access.customer: specs}, ctx.platform)
    reached: list[str] = []
    for name in receivers_for(config, labels):
        if name not in reached:
            reached.append(name)
    prefix = f"{access.customer}/"
    return {
        "labels": dict(sorted(labels.items())),
        "receivers": [n[len(prefix) :] for n in reached if n.startswith(prefix)],
        "alertmanagerReceivers": reached,
    }


def firing_counts(
    ctx: Context, customers: list[str], scoped: str | None, timeout_s: float
) -> dict[str, int]:
    """Active (not silenced or inhibited) alerts per customer, in one request. A scoped
    token's request is filtered to its customer by Alertmanager already."""
    query: dict[str, str] = {"active": "true", "silenced": "false", "inhibited": "false"}
    if scoped is not None:
        query["filter"] = f'{TENANT_LABEL}="{scoped}"'
    counts = dict.fromkeys(customers, 0)
    tenants = [scoped] if scoped is not None else customers
    for alert in alertmanager_alerts(ctx, query, timeout_s, tenants):
        labels = alert.get("labels") if isinstance(alert, dict) else None
        cid = labels.get(TENANT_LABEL) if isinstance(labels, dict) else None
        if isinstance(cid, str) and cid in counts:
            counts[cid] += 1
    return counts


def firing(ctx: Context, access: Access, silenced: bool, inhibited: bool) -> list[dict[str, Any]]:
    """The customer's active alerts, as Alertmanager's API v2 has them."""
    ctx.require_known(access)
    query = {
        "filter": f'{TENANT_LABEL}="{access.customer}"',
        "active": "true",
        "silenced": str(silenced).lower(),
        "inhibited": str(inhibited).lower(),
    }
    try:
        data = alertmanager_alerts(ctx, query, ctx.settings.firing_timeout_s, [access.customer])
    except UpstreamFailed as exc:
        if exc.__cause__ is not None:
            log.warning("Alertmanager query failed: %s", exc.__cause__)
        raise
    out = []
    for alert in data:
        if not isinstance(alert, dict):
            continue
        labels = _strings(alert.get("labels"))
        # Alertmanager filtered already; checking again costs nothing and keeps a
        # misbehaving proxy from handing one customer another's alerts.
        if labels.get(TENANT_LABEL) != access.customer:
            continue
        status: dict[str, Any] = alert["status"] if isinstance(alert.get("status"), dict) else {}
        out.append(
            {
                "labels": labels,
                "annotations": _strings(alert.get("annotations")),
                "startsAt": str(alert.get("startsAt", "")),
                "endsAt": str(alert.get("endsAt", "")),
                "fingerprint": str(alert.get("fingerprint", "")),
                "status": {
                    "state": str(status.get("state", "")),
                    "silencedBy": [str(s) for s in status.get("silencedBy") or []],
                    "inhibitedBy": [str(s) for s in status.get("inhibitedBy") or []],
                },
                "receivers": [
                    str(r.get("name", ""))
                    for r in alert.get("receivers") or []
                    if isinstance(r, dict)
                ],
            }
        )
    return sorted(out, key=lambda a: (a["labels"].get("alertname", ""), a["fingerprint"]))


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

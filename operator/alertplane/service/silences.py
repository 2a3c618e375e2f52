"""A customer's silences: listed, created, extended and expired in Alertmanager (API v2),
each change audited (kind `Silence`, named by the silence id). Every door calls these: the
REST API, the console, the live board (and the CLI through the API).

Silences live only in Alertmanager; alertplane keeps no copy, so what a customer sees is
what Alertmanager enforces. A silence is the customer's when its matchers hold exactly one
on `customer_id`, equal (not a regex) to the customer's id: alertplane adds that matcher to
every silence it creates and never lets a customer change or drop it (silence_body.py), so
it can only silence that customer's alerts. Any other silence (an operator's made with
amtool, one with two customer_id matchers) is nobody's here: a customer can neither see
nor change it, and a silence id of another customer answers 404 like one that does not
exist, never 403.
"""

from __future__ import annotations

import re
import threading
import zlib
from datetime import UTC, datetime
from typing import Any

from ..errors import Conflict, Invalid, NotFound, Problem, Unavailable
from . import am_silences as am
from .access import Access
from .context import Context
from .silence_body import TENANT_LABEL, new_end, new_silence, parse_time, stamp

KIND = "Silence"  # the audit rows' kind
STATES = ("active", "pending", "expired")
# A customer's active + pending silences at most: Alertmanager checks every alert against
# every silence, so one customer must not be able to slow it down for all.
MAX_SILENCES = 200
# A customer's silences in Alertmanager at most, expired ones included: 0.25 has no limit
# of its own and keeps an expired silence for its retention (120h by default), walking all
# of them on every query, so creating and expiring in a loop would grow it without bound.
MAX_KEPT = 1000
NOT_FOUND = "silence not found"
NO_TENANT = (
    "the customer has no Alertmanager yet (Mimir runs a tenant's once its configuration "
    "exists); create a receiver first, then retry"
)
# Alertmanager's ids are UUIDs; it answers anything else with 422, which would read as
# Alertmanager failing: such an id is a silence that does not exist.
_SILENCE_ID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
# Creating is counting then writing: one lock per customer (striped) keeps this process's
# concurrent creations within MAX_SILENCES. Several API replicas may each overshoot by
# their concurrent requests, a bound still.
_LOCKS = [threading.Lock() for _ in range(64)]


def owner(silence: Any) -> str | None:
    """The customer a silence of Alertmanager belongs to (see the module doc), or None."""
    matchers = silence.get("matchers") if isinstance(silence, dict) else None
    if not isinstance(matchers, list):
        return None
    tenant = [m for m in matchers if isinstance(m, dict) and m.get("name") == TENANT_LABEL]
    if len(tenant) != 1:
        return None
    m = tenant[0]
    if m.get("isRegex", False) is not False or m.get("isEqual", True) is not True:
        return None
    value = m.get("value")
    return value if isinstance(value, str) else None


def view(silence: dict[str, Any]) -> dict[str, Any]:
    """A silence as every door shows it (Alertmanager's fields, the customer named)."""
    status = silence.get("status") if isinstance(silence.get("status"), dict) else {}
    return {
        "id": str(silence.get("id", "")),
        "customerId": owner(silence) or "",
        "matchers": [
            {
                "name": str(m.get("name", "")),
                "value": str(m.get("value", "")),
                "isRegex": bool(m.get("isRegex", False)),
                "isEqual": bool(m.get("isEqual", True)),
            }
            for m in silence.get("matchers") or []
            if isinstance(m, dict)
        ],
        "startsAt": str(silence.get("startsAt", "")),
        "endsAt": str(silence.get("endsAt", "")),
        "updatedAt": str(silence.get("updatedAt", "")),
        "createdBy": str(silence.get("createdBy", "")),
        "comment": str(silence.get("comment", "")),
        "status": {"state": str((status or {}).get("state", ""))},
    }


def list_silences(ctx: Context, access: Access, state: str | None = None) -> list[dict[str, Any]]:
    """The customer's silences (only those in `state` when given): active first, then
    pending, then expired (Alertmanager keeps expired ones for its retention, 5 days)."""
    ctx.require_known(access)
    if state is not None and state not in STATES:
        raise Invalid([Problem("state", f"unknown state {state!r}", f"one of {', '.join(STATES)}")])
    points = am.endpoints(ctx, access.customer)
    found = [view(s) for s in _own(ctx, points, access.customer)]
    if state is not None:
        found = [s for s in found if s["status"]["state"] == state]
    order = {name: i for i, name in enumerate(STATES)}
    return sorted(found, key=lambda s: (order.get(s["status"]["state"], 3), s["endsAt"], s["id"]))


def get_silence(ctx: Context, access: Access, silence_id: str) -> dict[str, Any]:
    """One of the customer's silences; NotFound for an id of anyone else's."""
    silence, _ = _find(ctx, access, silence_id)
    return view(silence)


def create_silence(
    ctx: Context, access: Access, body: Any, who: str | None = None
) -> dict[str, Any]:
    """A new silence of the customer from `body` (`matchers`, `comment`, `startsAt`?,
    `endsAt` or `duration`), with customer_id="<customer>" added. `who`: the name
    Alertmanager records as its creator and the audit as actor (default: the token's)."""
    ctx.require_known(access)
    now = datetime.now(UTC)
    new = new_silence(access.customer, body, now)
    actor = who or access.actor
    payload = {
        "matchers": new.matchers,
        "startsAt": stamp(new.starts),
        "endsAt": stamp(new.ends),
        "createdBy": actor,
        "comment": new.comment,
    }
    points = am.endpoints(ctx, access.customer)
    with _LOCKS[zlib.crc32(access.customer.encode()) % len(_LOCKS)]:
        _check_room(_own(ctx, points, access.customer))
        answer = am.write(points, "POST", "/api/v2/silences", payload, _timeout(ctx))
    if answer.status == 404:  # no id was sent: it is the Alertmanager that is missing
        raise Unavailable(NO_TENANT)
    sid = _created_id(answer)
    state = "pending" if new.starts > now else "active"
    silence = {**payload, "id": sid, "updatedAt": stamp(now), "status": {"state": state}}
    _audit(ctx, access, "create", sid, None, silence, actor, points)
    return view(silence)


def extend_silence(
    ctx: Context, access: Access, silence_id: str, ends_at: Any, who: str | None = None
) -> dict[str, Any]:
    """The silence with a new end: `ends_at` a datetime, an RFC 3339 string, or a body
    `{"endsAt": ...}` / `{"duration": "2h"}` (from now). Alertmanager may give the
    changed silence a new id (it does when it cannot update in place); the answer has it."""
    silence, point = _find(ctx, access, silence_id)
    if _state(silence) == "expired":
        raise Conflict("the silence has expired; create a new one")
    body = _end_body(ends_at)
    starts = parse_time(str(silence.get("startsAt", ""))) or datetime.now(UTC)
    ends = new_end(body, starts, datetime.now(UTC))
    payload = {
        "id": silence["id"],
        "matchers": silence["matchers"],
        "startsAt": silence["startsAt"],
        "endsAt": stamp(ends),
        "createdBy": silence.get("createdBy") or access.actor,
        "comment": silence.get("comment") or "-",
    }
    answer = am.write(
        _first(point, ctx, access), "POST", "/api/v2/silences", payload, _timeout(ctx)
    )
    sid = _created_id(answer)
    now = stamp(datetime.now(UTC))
    after = {**silence, **payload, "id": sid, "updatedAt": now}
    _audit(ctx, access, "extend", silence["id"], silence, after, who or access.actor)
    return view(after)


def expire_silence(
    ctx: Context, access: Access, silence_id: str, who: str | None = None
) -> dict[str, Any]:
    """The silence expired now (already expired: as it is, nothing written)."""
    silence, point = _find(ctx, access, silence_id)
    if _state(silence) == "expired":
        return view(silence)
    path = f"/api/v2/silence/{silence['id']}"
    answer = am.write(_first(point, ctx, access), "DELETE", path, None, _timeout(ctx))
    if answer.status == 404:
        raise NotFound(NOT_FOUND)
    if answer.status != 200:
        raise am.upstream(answer, "expire the silence")
    now = stamp(datetime.now(UTC))
    after = {**silence, "endsAt": now, "updatedAt": now, "status": {"state": "expired"}}
    _audit(ctx, access, "expire", silence["id"], silence, after, who or access.actor)
    return view(after)


def _check_room(own: list[dict[str, Any]]) -> None:
    live = [s for s in own if _state(s) != "expired"]
    if len(live) >= MAX_SILENCES:
        raise Conflict(
            f"the customer has {len(live)} active or pending silences, the most "
            f"alertplane allows is {MAX_SILENCES}; expire some first"
        )
    if len(own) >= MAX_KEPT:
        raise Conflict(
            f"the customer has {len(own)} silences in Alertmanager, expired ones included "
            "(it keeps them for its retention, 120h by default), the most alertplane allows "
            f"is {MAX_KEPT}; extend a silence instead of making a new one, or wait for "
            "expired ones to be dropped"
        )


def _own(ctx: Context, points: list[am.Endpoint], customer: str) -> list[dict[str, Any]]:
    """The customer's silences as Alertmanager has them (newest version of each)."""
    # The filter narrows Alertmanager's answer; `owner` decides (a regex matcher on
    # customer_id passes Alertmanager's filter too).
    path = f"/api/v2/silences?filter={TENANT_LABEL}%3D%22{customer}%22"
    found: list[dict[str, Any]] = []
    for _, answer in am.read_all(points, path, _timeout(ctx)):
        if answer.status == 404:  # Mimir: a tenant without configuration has none
            continue
        if answer.status != 200 or not isinstance(answer.body, list):
            raise am.upstream(answer, "list silences")
        found.extend(s for s in answer.body if isinstance(s, dict) and owner(s) == customer)
    return am.newest(found)


def _find(ctx: Context, access: Access, silence_id: str) -> tuple[dict[str, Any], am.Endpoint]:
    """The customer's silence `silence_id` and the replica that has its newest version."""
    ctx.require_known(access)
    if not _SILENCE_ID.match(silence_id):  # nothing else reaches Alertmanager's URL path
        raise NotFound(NOT_FOUND)
    points = am.endpoints(ctx, access.customer)
    best: tuple[dict[str, Any], am.Endpoint] | None = None
    for point, answer in am.read_all(points, f"/api/v2/silence/{silence_id}", _timeout(ctx)):
        if answer.status == 404:
            continue
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise am.upstream(answer, "read the silence")
        if best is None or str(answer.body.get("updatedAt", "")) > str(
            best[0].get("updatedAt", "")
        ):
            best = (answer.body, point)
    if best is None or owner(best[0]) != access.customer:
        raise NotFound(NOT_FOUND)
    return best


def _first(point: am.Endpoint, ctx: Context, access: Access) -> list[am.Endpoint]:
    """The replica holding the silence's newest version first (another may not have
    heard of it yet), then the others."""
    return [point, *(p for p in am.endpoints(ctx, access.customer) if p != point)]


def _state(silence: dict[str, Any]) -> str:
    status = silence.get("status")
    return str(status.get("state", "")) if isinstance(status, dict) else ""


def _timeout(ctx: Context) -> float:
    return ctx.settings.firing_timeout_s


def _end_body(ends_at: Any) -> Any:
    if isinstance(ends_at, datetime):
        return {"endsAt": ends_at.isoformat()}
    if isinstance(ends_at, str):
        return {"endsAt": ends_at}
    return ends_at


def _created_id(answer: am.Answer) -> str:
    """The id Alertmanager gave the silence it stored; its refusal as the problem."""
    if answer.status == 400:
        # Alertmanager's own checks (a regex RE2 refuses, a matcher set matching
        # everything): its message, which quotes only what the caller sent.
        raise Invalid(
            [
                Problem(
                    "matchers",
                    f"Alertmanager refused the silence: {str(answer.body)[:300]}",
                    "regexes are RE2 (no lookaround, no backreferences)",
                )
            ]
        )
    if answer.status == 404:
        raise NotFound(NOT_FOUND)
    body = answer.body
    sid = body.get("silenceID") if isinstance(body, dict) else None
    if answer.status != 200 or not isinstance(sid, str) or not _SILENCE_ID.match(sid):
        raise am.upstream(answer, "store the silence")
    return sid


def _audit(
    ctx: Context,
    access: Access,
    action: str,
    silence_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    actor: str,
    created_on: list[am.Endpoint] | None = None,
) -> None:
    """One audit row; a silence just created that cannot be audited is expired again
    (nothing unaudited stays), then the failure is raised."""
    source = str(getattr(ctx.writer, "source", "api"))
    try:
        ctx.store.record_silence(
            action, access.customer, silence_id, _audited(before), _audited(after), actor, source
        )
    except Exception:
        if created_on is not None:
            try:
                path = f"/api/v2/silence/{silence_id}"
                am.write(created_on, "DELETE", path, None, _timeout(ctx))
            except Exception:  # the audit failure is the one to report
                am.log.exception("silence %s created but neither audited nor expired", silence_id)
        raise


def _audited(silence: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the audit keeps of a silence: who made it, when, matchers, comment, expiry."""
    if silence is None:
        return None
    shown = view(silence)
    return {
        "customerId": shown["customerId"],
        **{k: v for k, v in shown.items() if k != "customerId"},
    }

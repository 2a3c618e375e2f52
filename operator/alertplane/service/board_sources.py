"""Where the live board reads Prometheus: each customer's rule evaluator, asked in parallel.

Alertmanager knows only what fires; the board also shows what is pending (its `for` not
yet elapsed) and the current value of each alert's condition, which only the Prometheus
evaluating the customer's rules knows (`/api/v1/alerts`), and draws the timeline from
that Prometheus' `ALERTS` series (`/api/v1/query_range`).

Which Prometheus evaluates a customer: with `prometheus.shards` its shard's URL
(render/placement.py, pins included); unsharded, the reconciler's `--prometheus-url`; with
the Mimir sink, Mimir's Prometheus API asked as the customer's tenant (X-Scope-OrgID),
so a customer's request never reaches another tenant's data. Every answer is bounded in
time and size (http_read), and one server that is down or hangs costs its deadline and
a line in `problems`, never the board.

Scoping never trusts the caller: the customer ids come from the access check (DNS labels,
safe inside a quoted PromQL string), the query is built here, and every series or alert
in an answer is checked again for its `customer_id` before it is kept.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import http_read
from ..errors import UpstreamFailed
from ..render.placement import place
from .context import Context
from .mimir_alerts import tenant_alerts

log = logging.getLogger("alertplane.api")

TENANT_LABEL = "customer_id"
PARALLEL = 8  # servers (shards, Mimir tenants) asked at once
MAX_ANSWER = 32 << 20  # /api/v1/alerts of a shard with thousands of alerts is a few MB
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """One Prometheus API: `name` for messages (shard, "prometheus", "mimir:<tenant>"),
    `base` ends before /api/v1, `customers` are the ones whose rules it evaluates."""

    name: str
    base: str
    customers: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)


def targets(ctx: Context, customers: list[str]) -> tuple[list[Target], list[str]]:
    """The Prometheus APIs evaluating `customers`, and why some customers have none."""
    if not customers:
        return [], []
    mimir = ctx.settings.mimir
    if mimir is not None:
        base = f"{mimir.url.rstrip('/')}/prometheus"
        # Headers (the gateway token) are read when asked: ask_all catches a missing file.
        return [Target(f"mimir:{c}", base, (c,), {"X-Scope-OrgID": c}) for c in customers], []
    shards = ctx.platform.prometheus
    if shards.shards:
        urls = {s.name: s.url for s in shards.shards}
        by_shard: dict[str, list[str]] = {}
        for cid in customers:
            by_shard.setdefault(place(cid, shards) or "", []).append(cid)
        found = [Target(n, u, tuple(cs)) for n, cs in by_shard.items() if (u := urls.get(n))]
        missing = [f"shard {n} has no url" for n in sorted(by_shard) if not urls.get(n)]
        return found, missing
    url = ctx.reconciler.settings.prometheus_url if ctx.reconciler is not None else None
    if not url:
        return [], ["no Prometheus URL configured (alertplane serve --prometheus-url)"]
    return [Target("prometheus", url, tuple(customers))], []


def _headers(ctx: Context, target: Target) -> dict[str, str]:
    mimir = ctx.settings.mimir
    if mimir is not None and target.headers:
        return mimir.headers(target.headers["X-Scope-OrgID"])
    return {"Accept": "application/json"}


def _get(ctx: Context, target: Target, path: str, query: dict[str, str], timeout_s: float) -> Any:
    url = f"{target.base.rstrip('/')}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, headers=_headers(ctx, target))
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body = http_read.read_answer(resp, time.monotonic() + timeout_s, MAX_ANSWER)
        data = json.loads(body)
    except http_read.AnswerTooLarge as exc:
        raise UpstreamFailed(f"{target.name}: Prometheus' answer is too large") from exc
    except (OSError, ValueError) as exc:
        raise UpstreamFailed(f"{target.name}: Prometheus did not answer") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        raise UpstreamFailed(f"{target.name}: Prometheus gave an unexpected answer")
    return data.get("data")


def ask_all(
    found: list[Target], ask: Callable[[Target], T]
) -> tuple[list[tuple[Target, T]], list[str]]:
    """`ask` of every target in parallel: the answers, and a message per target that
    failed (logged with its cause; the board shows the message)."""
    if not found:
        return [], []
    with ThreadPoolExecutor(min(PARALLEL, len(found))) as pool:
        futures = [pool.submit(ask, t) for t in found]
    answers: list[tuple[Target, T]] = []
    problems: list[str] = []
    for target, future in zip(found, futures, strict=True):
        try:
            answers.append((target, future.result()))
        except UpstreamFailed as exc:
            log.warning("board: %s (%s)", exc, exc.__cause__)
            problems.append(str(exc))
    return answers, problems


def prometheus_alerts(
    ctx: Context, customers: list[str], timeout_s: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Pending and firing alerts of `customers` as their Prometheus evaluates them
    (labels, state, activeAt, value), and what could not be asked."""
    found, problems = targets(ctx, customers)

    def ask(target: Target) -> list[dict[str, Any]]:
        data = _get(ctx, target, "/api/v1/alerts", {}, timeout_s)
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if not isinstance(alerts, list):
            raise UpstreamFailed(f"{target.name}: Prometheus gave an unexpected answer")
        mine = set(target.customers)
        return [a for a in alerts if isinstance(a, dict) and _customer(a) in mine]

    answers, failed = ask_all(found, ask)
    out: list[dict[str, Any]] = []
    for _, alerts in answers:
        out.extend(alerts)
    return out, problems + failed


def _customer(alert: dict[str, Any]) -> str | None:
    labels = alert.get("labels")
    value = labels.get(TENANT_LABEL) if isinstance(labels, dict) else None
    return value if isinstance(value, str) else None


def alerts_range(
    ctx: Context, customer: str, start: float, end: float, step_s: float, timeout_s: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """`ALERTS{customer_id="<customer>", alertstate="firing"}` over [start, end] from the
    customer's Prometheus: the series (metric, values), only the customer's."""
    found, problems = targets(ctx, [customer])
    # `customer` passed the access check: a DNS label, nothing to escape inside quotes.
    query = {
        "query": f'ALERTS{{{TENANT_LABEL}="{customer}",alertstate="firing"}}',
        "start": f"{start:.3f}",
        "end": f"{end:.3f}",
        "step": f"{step_s:.0f}s",
    }

    def ask(target: Target) -> list[dict[str, Any]]:
        data = _get(ctx, target, "/api/v1/query_range", query, timeout_s)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise UpstreamFailed(f"{target.name}: Prometheus gave an unexpected answer")
        return [
            s
            for s in result
            if isinstance(s, dict)
            and isinstance(s.get("metric"), dict)
            and s["metric"].get(TENANT_LABEL) == customer
        ]

    answers, failed = ask_all(found, ask)
    series = [s for _, found_series in answers for s in found_series]
    return series, problems + failed


def tenants_alertmanager(
    ctx: Context, customers: list[str], query: dict[str, str], timeout_s: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """With the Mimir sink: each customer's alerts from its own tenant of Mimir's
    Alertmanager, and a message per tenant that did not answer (the board shows the
    others). An alert is kept only under the tenant it came from: one in globex's tenant
    labelled customer_id="acme" is nobody's (alertplane's rules always carry their
    tenant's id), never acme's on an admin's board."""
    mimir = ctx.settings.mimir
    if mimir is None or not customers:
        return [], []
    found = [Target(f"mimir:{c}", mimir.url, (c,), {"X-Scope-OrgID": c}) for c in customers]

    def ask(target: Target) -> list[dict[str, Any]]:
        tenant = target.customers[0]
        try:
            alerts = tenant_alerts(mimir, tenant, query, timeout_s)
        except UpstreamFailed as exc:
            raise UpstreamFailed(f"{target.name}: {exc.detail}") from exc.__cause__
        return [a for a in alerts if isinstance(a, dict) and _customer(a) == tenant]

    answers, problems = ask_all(found, ask)
    return [a for _, alerts in answers for a in alerts], problems

"""Reading the Alertmanager cluster for the firing view and its silenced/inhibited state.

One Alertmanager: it is asked. Replicas (`alertmanager.replicas`): every replica with a URL
is asked at once and the answers are merged by fingerprint. In a gossip cluster any live
replica would do for silences (they are gossiped) and, in the steady state, for alerts
(every Prometheus sends every alert to every replica); merging covers what "any" misses: a
replica that just restarted has no alerts until Prometheus re-sends them (up to its
resend delay, 1 minute), and one replica that is down or hangs costs nothing but its
timeout, which runs in parallel with the others'. For an alert several replicas hold, the
first replica in the platform config's order that answered gives its state.

With the Mimir sink (`serve --sink mimir`) the alerts are in Mimir's per-tenant
Alertmanager instead: each customer asked as its own tenant (mimir_alerts.py).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import http_read
from ..errors import Unavailable, UpstreamFailed
from .context import Context
from .mimir_alerts import tenants_alerts

log = logging.getLogger("alertplane.api")


def alertmanager_urls(ctx: Context) -> list[str]:
    """The single Alertmanager's URL (`--alertmanager-url`), else every replica's."""
    if ctx.alertmanager_url:
        return [ctx.alertmanager_url]
    return [r.url for r in ctx.platform.alertmanager.replicas if r.url]


def _ask(base: str, query: dict[str, str], timeout_s: float) -> list[Any]:
    url = f"{base.rstrip('/')}/api/v2/alerts?{urllib.parse.urlencode(query)}"
    try:
        # Within the deadline, whole (a trickling replica is not waited for), and capped.
        data = json.loads(http_read.get(url, timeout_s))
    except http_read.AnswerTooLarge as exc:
        raise UpstreamFailed(f"Alertmanager's answer is too large ({exc})") from exc
    except (OSError, ValueError) as exc:
        raise UpstreamFailed("Alertmanager did not answer; retry later") from exc
    if not isinstance(data, list):
        raise UpstreamFailed("Alertmanager gave an unexpected answer")
    return data


def alertmanager_alerts(
    ctx: Context, query: dict[str, str], timeout_s: float, tenants: list[str]
) -> list[Any]:
    """Alertmanager's API v2 /alerts asked with `query`, of the cluster: `Unavailable` when
    no Alertmanager is configured, `UpstreamFailed` when none answers a list (caused by the
    first one's error). `tenants`: the customers the caller may see; with Mimir each is
    asked as its tenant (and only those), otherwise `query` filters one shared view."""
    if ctx.settings.mimir is not None:
        return tenants_alerts(ctx.settings.mimir, tenants, query, timeout_s)
    urls = alertmanager_urls(ctx)
    if not urls:
        raise Unavailable(
            "no Alertmanager URL configured (alertplane serve --alertmanager-url, or "
            "alertmanager.replicas[].url in the platform config)"
        )
    if len(urls) == 1:
        return _ask(urls[0], query, timeout_s)
    with ThreadPoolExecutor(len(urls)) as pool:
        futures = [pool.submit(_ask, url, query, timeout_s) for url in urls]
    answers: list[list[Any]] = []
    errors: list[UpstreamFailed] = []
    for url, future in zip(urls, futures, strict=True):
        try:
            answers.append(future.result())
        except UpstreamFailed as exc:
            log.warning("Alertmanager replica %s: %s (%s)", url, exc, exc.__cause__)
            errors.append(exc)
    if not answers:
        raise errors[0]
    return merged(answers)


def merged(answers: list[list[Any]]) -> list[Any]:
    """One list from several replicas' answers: each fingerprint once, from the first
    answer holding it (entries without a fingerprint are kept as they are)."""
    seen: set[str] = set()
    out: list[Any] = []
    for answer in answers:
        for alert in answer:
            fingerprint = alert.get("fingerprint") if isinstance(alert, dict) else None
            if isinstance(fingerprint, str):
                if fingerprint in seen:
                    continue
                seen.add(fingerprint)
            out.append(alert)
    return out

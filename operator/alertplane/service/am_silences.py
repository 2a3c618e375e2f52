"""Alertmanager's API v2 silences, spoken over HTTP: where to ask, within a deadline.

Where: the single Alertmanager (`--alertmanager-url`), else every replica of the platform
config; with the Mimir sink, Mimir's Alertmanager as the customer's own tenant (so a
silence lives in that tenant and can silence nothing of another). Silences are gossiped
between replicas, so a write goes to ONE replica (the first that answers, in the platform
config's order) and reaches the others by gossip; a read asks every replica at once and
keeps, per silence id, the newest version (`updatedAt`): a silence just written on one
replica is seen even before the others heard of it, and a replica that is down costs its
timeout, in parallel.

Alertmanager not reachable at all is `Unavailable` (503: retry later); one that answers
badly is `UpstreamFailed` (502). This module knows nothing of customers' rights: it is
silences.py that decides which silences a caller may see or change.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import http_read
from ..errors import Unavailable, UpstreamFailed
from .alertmanagers import alertmanager_urls
from .context import Context

log = logging.getLogger("alertplane.api")

MAX_ANSWER = 32 << 20  # every silence of the cluster (expired ones are kept 5 days)


@dataclass(frozen=True)
class Endpoint:
    """One Alertmanager's API: its base URL and the headers every request carries."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """Alertmanager's HTTP answer: its status code and body (JSON, or text if not)."""

    status: int
    body: Any


class Down(OSError):
    """No answer within the deadline: connection refused, reset, or too slow."""


def endpoints(ctx: Context, customer: str) -> list[Endpoint]:
    """Where `customer`'s silences live; `Unavailable` when nothing is configured."""
    mimir = ctx.settings.mimir
    if mimir is not None:
        # The Mimir gateway's token file is read here, per request, like the sink does.
        return [Endpoint(f"{mimir.url.rstrip('/')}/alertmanager", mimir.headers(customer))]
    urls = alertmanager_urls(ctx)
    if not urls:
        raise Unavailable(
            "no Alertmanager URL configured, so there are no silences (alertplane serve "
            "--alertmanager-url, or alertmanager.replicas[].url in the platform config)"
        )
    return [Endpoint(url.rstrip("/")) for url in urls]


def call(endpoint: Endpoint, method: str, path: str, body: Any, timeout_s: float) -> Answer:
    """One request to one Alertmanager, its answer whole within `timeout_s`; `Down` when
    there is none; an answer too large is `UpstreamFailed`."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", **endpoint.headers}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(endpoint.url + path, data=data, headers=headers, method=method)
    deadline = time.monotonic() + timeout_s
    try:
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return Answer(
                    resp.status, _parsed(http_read.read_answer(resp, deadline, MAX_ANSWER))
                )
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, _parsed(http_read.read_answer(exc, deadline, 64 << 10)))
    except http_read.AnswerTooLarge as exc:
        raise UpstreamFailed(f"Alertmanager's answer is too large ({exc})") from exc
    except OSError as exc:  # refused, reset, timed out, AnswerTooSlow
        raise Down(f"{endpoint.url}: {exc}") from exc


def _parsed(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text.strip()


def unavailable(tried: list[Endpoint], why: BaseException | None) -> Unavailable:
    n = len(tried)
    what = (
        "Alertmanager did not answer"
        if n == 1
        else f"none of the {n} Alertmanager replicas answered"
    )
    log.warning("silences: %s (%s)", what, why)
    err = Unavailable(f"{what}; silences need Alertmanager, retry later")
    err.__cause__ = why
    return err


def write(points: list[Endpoint], method: str, path: str, body: Any, timeout_s: float) -> Answer:
    """`method path` on the first replica that answers (gossip tells the others)."""
    why: BaseException | None = None
    for endpoint in points:
        try:
            return call(endpoint, method, path, body, timeout_s)
        except Down as exc:
            why = exc
    raise unavailable(points, why)


def read_all(points: list[Endpoint], path: str, timeout_s: float) -> list[tuple[Endpoint, Answer]]:
    """`GET path` on every replica at once: each replica that answered with its answer;
    `Unavailable` when none did."""
    if len(points) == 1:
        try:
            return [(points[0], call(points[0], "GET", path, None, timeout_s))]
        except Down as exc:
            raise unavailable(points, exc) from exc
    with ThreadPoolExecutor(len(points)) as pool:
        futures = [pool.submit(call, p, "GET", path, None, timeout_s) for p in points]
    answers: list[tuple[Endpoint, Answer]] = []
    why: BaseException | None = None
    for endpoint, future in zip(points, futures, strict=True):
        try:
            answers.append((endpoint, future.result()))
        except Down as exc:
            log.warning("Alertmanager replica %s: %s", endpoint.url, exc)
            why = exc
    if not answers:
        raise unavailable(points, why)
    return answers


def newest(silences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each silence id once: the version updated last (replicas may lag by a gossip)."""
    best: dict[str, dict[str, Any]] = {}
    for s in silences:
        sid = s.get("id")
        if not isinstance(sid, str):
            continue
        kept = best.get(sid)
        if kept is None or str(s.get("updatedAt", "")) > str(kept.get("updatedAt", "")):
            best[sid] = s
    return list(best.values())


def upstream(answer: Answer, what: str) -> UpstreamFailed:
    """Alertmanager answered, but not what `what` needs (its text kept for the log)."""
    log.warning("Alertmanager %s: HTTP %s %s", what, answer.status, str(answer.body)[:500])
    return UpstreamFailed(f"Alertmanager failed to {what} (HTTP {answer.status}); retry later")

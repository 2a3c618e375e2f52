"""The firing view over Grafana Mimir's multi-tenant Alertmanager (`serve --sink mimir`).

With the Mimir sink each customer is a tenant, and its alerts live in that tenant's
Alertmanager, which answers only requests carrying `X-Scope-OrgID: <customerId>`. So a
customer is asked about as its own tenant and never through a shared view: a customer's
token reaches exactly its tenant, whatever labels another tenant's alerts carry (a
`customer_id="acme"` label written into globex's tenant stays in globex's tenant). The
gateway in front of Mimir authenticates alertplane with the sink's bearer token file
(`--mimir-token-file`, re-read per request like the sink does).

Several tenants (an admin's console counts) are asked in parallel, a few at a time. Unlike
Alertmanager replicas, tenants are not copies of each other: one that does not answer
leaves the whole answer unknown (UpstreamFailed), never silently short.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UpstreamFailed

log = logging.getLogger("alertplane.api")

PATH = "/alertmanager/api/v2/alerts"
PARALLEL = 8  # tenants asked at once: an admin's console over 1,000 customers
ATTEMPTS = 3  # Mimir answers transient 5xx under CPU starvation (docs/mimir.md)
BACKOFF_S = 0.2
MAX_ANSWER = 32 * 1024 * 1024


@dataclass(frozen=True)
class MimirAlertmanager:
    """Where the firing view asks: Mimir's base URL (the sink's --mimir-url) and the
    gateway's bearer token file (--mimir-token-file; None: no Authorization header)."""

    url: str
    token_file: str | None = None

    def headers(self, tenant: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-Scope-OrgID": tenant}
        if self.token_file:
            try:
                token = Path(self.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise UpstreamFailed("cannot read --mimir-token-file; retry later") from exc
            headers["Authorization"] = f"Bearer {token}"
        return headers


def tenant_alerts(
    mimir: MimirAlertmanager, tenant: str, query: dict[str, str], timeout_s: float
) -> list[Any]:
    """One tenant's alerts (API v2 `query`). A tenant Mimir has no Alertmanager
    configuration for has no Alertmanager running, so nothing firing: 404 is []. 5xx and
    connection errors are retried within `timeout_s` overall."""
    url = f"{mimir.url.rstrip('/')}{PATH}?{urllib.parse.urlencode(query)}"
    deadline = time.monotonic() + timeout_s
    why: BaseException | None = None
    for attempt in range(ATTEMPTS):
        left = deadline - time.monotonic()
        if attempt and left <= BACKOFF_S:
            break
        req = urllib.request.Request(url, headers=mimir.headers(tenant))
        try:
            with urllib.request.urlopen(req, timeout=max(left, 0.1)) as resp:
                return _alerts(resp.read(MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            if exc.code < 500:
                # 401/403 from the gateway: alertplane's token is wrong; no retry helps.
                raise UpstreamFailed(f"Mimir's Alertmanager refused (HTTP {exc.code})") from exc
            why = exc
        except (OSError, ValueError) as exc:
            why = exc
        time.sleep(BACKOFF_S * 2**attempt)
    raise UpstreamFailed("Mimir's Alertmanager did not answer; retry later") from why


def _alerts(raw: bytes) -> list[Any]:
    data = json.loads(raw)
    if not isinstance(data, list):
        raise ValueError("Mimir's Alertmanager gave an unexpected answer (not a list)")
    return data


def tenants_alerts(
    mimir: MimirAlertmanager, tenants: list[str], query: dict[str, str], timeout_s: float
) -> list[Any]:
    """Every tenant's alerts, one list; UpstreamFailed when any tenant did not answer."""
    if len(tenants) == 1:
        return tenant_alerts(mimir, tenants[0], query, timeout_s)
    if not tenants:
        return []
    with ThreadPoolExecutor(min(PARALLEL, len(tenants))) as pool:
        futures = [pool.submit(tenant_alerts, mimir, t, query, timeout_s) for t in tenants]
    out: list[Any] = []
    for tenant, future in zip(tenants, futures, strict=True):
        try:
            out.extend(future.result())
        except UpstreamFailed as exc:
            log.warning("Mimir tenant %s: %s (%s)", tenant, exc, exc.__cause__)
            raise
    return out

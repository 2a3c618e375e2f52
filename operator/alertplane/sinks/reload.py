"""Hot reload of Prometheus and Alertmanager via their lifecycle endpoint.

Both answer `POST /-/reload` only after the new configuration is loaded (or rejected), so
a 200 means the written files are live; a 5xx means the old configuration stays live.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class ReloadOutcome:
    ok: bool
    attempts: int
    message: str = ""


def reload(
    base_url: str, attempts: int = 4, backoff_s: float = 0.1, timeout_s: float = 30.0
) -> ReloadOutcome:
    """POST <base_url>/-/reload with exponential backoff on connection errors and 5xx."""
    url = base_url.rstrip("/") + "/-/reload"
    message = ""
    for attempt in range(1, attempts + 1):
        try:
            req = urllib.request.Request(url, method="POST", data=b"")
            with urllib.request.urlopen(req, timeout=timeout_s):
                return ReloadOutcome(True, attempt)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace").strip()
            message = f"{url}: HTTP {exc.code}: {body or exc.reason}"
            if exc.code < 500:
                return ReloadOutcome(False, attempt, message)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            message = f"{url}: {reason}"
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return ReloadOutcome(False, attempts, message)

"""What /healthz and /readyz answer, for `alertplane serve` and `alertplane operator` alike.

- `/healthz` (liveness): 200 whenever the process answers HTTP at all. A database or a
  Prometheus that is down is not a reason to restart alertplane, so liveness never
  depends on them.
- `/readyz` (readiness): 200 only when all of these hold, else 503:
  1. the first full sync has finished (standalone `serve`, `operator`);
  2. the database is reachable, where the process cannot work without it (`serve`, with
     or without `--kubernetes`; the operator's database is a mirror it catches up later:
     reported in the body, and by `alertplane_mirror_up`, but not a reason for 503);
  3. syncs have not been failing (output not written, a reload refused, the database
     unavailable) for longer than the readiness grace period (`--readiness-grace`,
     default 60 s): one failed reload is retried, a Prometheus that stays broken is not
     ready.

The body is JSON: `status` ("ready" or "not ready"), `reasons` (why not), and while
syncs fail `syncFailingSince` (UTC) and `syncFailure`, the same time the
`alertplane_sync_failing_since_seconds` gauge holds. Nothing in it names a customer or a
path: it answers anyone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from .model.records import format_time

READINESS_GRACE_S = 60.0
DB_DOWN = "database unavailable"

Probe = Callable[[], bool]


class SyncState(Protocol):
    """What readiness reads from the reconciler (`sync.Reconciler`); a protocol because this
    module sits below `sync` in the layering (sync imports it to report failures)."""

    ready: threading.Event
    failing_since: float | None
    failure: str


def database_probe(engine: Engine) -> Probe:
    """True when the database answers a trivial query (bounded by the connect timeout)."""

    def probe() -> bool:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    return probe


def readiness(
    reconciler: SyncState | None,
    database: Probe | None = None,
    grace_s: float = READINESS_GRACE_S,
    mirror: Probe | None = None,
    migrated: threading.Event | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(ready, body) as described above; `mirror` is reported, never decisive;
    `migrated`: not ready before it is set (the API answers 503 until then)."""
    reasons: list[str] = []
    body: dict[str, Any] = {}
    if database is not None and not database():
        reasons.append("database unreachable")
    elif migrated is not None and not migrated.is_set():
        reasons.append("database not migrated yet")
    if mirror is not None:
        body["mirror"] = "ok" if mirror() else "database unreachable; changes are queued"
    if reconciler is not None:
        if not reconciler.ready.is_set():
            reasons.append("initial sync not finished")
        since = reconciler.failing_since
        if since is not None:
            body["syncFailingSince"] = _iso(since)
            body["syncFailure"] = reconciler.failure
            if time.time() - since >= grace_s:
                reasons.append(f"syncs failing since {_iso(since)}: {reconciler.failure}")
    out: dict[str, Any] = {"status": "not ready" if reasons else "ready"}
    if reasons:
        out["reasons"] = reasons
    return not reasons, {**out, **body}


def failure_kind(exc: Exception) -> str:
    """A failed sync pass, in the few words /readyz shows."""
    return DB_DOWN if isinstance(exc, SQLAlchemyError) else "sync error"


def log_failure(log: logging.Logger, what: str, exc: Exception) -> None:
    """A database that is down is one line per attempt; anything else has its traceback."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        log.warning("%s: database unavailable: %s", what, " ".join(str(orig).split()))
    else:
        log.exception(what)


def _iso(ts: float) -> str:
    return format_time(datetime.fromtimestamp(ts, UTC))

"""Which process reconciles: one per database, whatever the number of `serve` processes
and API workers on it.

Two reconcilers over one database would both write the output and the statuses (and
reload Prometheus for each other's passes); so the reconciler runs only in the process
holding the database's reconciler lock, and every other waits (standby) and takes over
when the holder goes away.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection of
  its own. The server releases it when that session ends — the process exits, is killed,
  or its connection breaks — so a dead holder never blocks a successor, and there is no
  lease that a paused holder could outlive: a SIGSTOPped holder keeps its session, and
  so its lock, and nobody else reconciles meanwhile. The holder checks its session every
  `check_s`; a broken one means the lock may be someone else's now, and the reconciler is
  stopped (`lost`). A partition: the server drops a silent holder's session after its
  TCP keepalive, which this session sets on the server's side too (~16 s; the server's
  own default is 2 hours of idle, no reconciler anywhere meanwhile), and the holder's
  check, sent into the partition, fails after `LOCK_TIMEOUT_S` (tcp_user_timeout;
  otherwise TCP retransmits for ~15 minutes, reconciling meanwhile): the holder stops
  before the server lets another process take the lock.
- SQLite: an exclusive `flock` on `<database file>-reconciler.lock` beside the database
  (SQLite serves processes on one host only, and so does this lock); the kernel releases
  it when the process dies, and the holder removes the file when it lets go. (Not a flock
  on the database file itself: this process's fd on it, once closed, would drop the POSIX
  locks SQLite holds on it.) In-memory SQLite is one process's own: nothing to elect.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .db import masked, sqlite_path

log = logging.getLogger("alertplane.election")

# pg advisory lock key of the reconciler ("alertrec" as a big-endian int64, halved to stay
# positive); not the audit feed's key (txn.FEED_LOCK).
RECONCILER_LOCK = int.from_bytes(b"alertrec", "big") >> 1
_TRY_LOCK = text(f"SELECT pg_try_advisory_lock({RECONCILER_LOCK})")
KEEPALIVE_S = 10  # TCP keepalive idle of the lock's session, on both ends
KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 2, 3  # the server drops it ~16 s after silence
LOCK_TIMEOUT_S = 5  # the holder's check unanswered by TCP this long: the lock may be lost


class ReconcilerLock:
    """`acquire(stop)` blocks until this process holds the lock (True) or `stop` is set
    (False); then `held()` says whether it still does; `release()` gives it up."""

    def __init__(self, engine: Engine, retry_s: float = 1.0) -> None:
        self.url = engine.url
        self.retry_s = retry_s
        self._conn: Any = None  # PostgreSQL: the session holding the lock
        self._fd: int | None = None  # SQLite: the locked file
        self._file = ""
        self._engine: Engine | None = None

    @property
    def where(self) -> str:
        path = sqlite_path(self.url)
        return f"{path}-reconciler.lock" if path is not None else masked(self.url)

    def acquire(self, stop: threading.Event, waiting: Callable[[], None] | None = None) -> bool:
        told = False
        while not stop.is_set():
            try:
                if self._try():
                    log.info(
                        "this process reconciles (holds the reconciler lock of %s)", self.where
                    )
                    return True
            except (SQLAlchemyError, OSError) as exc:  # down: try again, as serve waits for it
                log.warning("reconciler lock of %s: %s; retrying", self.where, exc)
                self.release()
            if not told:
                log.info(
                    "another process reconciles %s; this one serves the API and stands by",
                    self.where,
                )
                told = True
                if waiting is not None:
                    waiting()
            stop.wait(self.retry_s)
        return False

    def _try(self) -> bool:
        if self.url.drivername.startswith("sqlite"):
            return self._try_file()
        if self._engine is None:
            # Its own engine without a pool: the session must never go back to a pool
            # (another checkout would share the lock) nor be recycled behind our back.
            self._engine = create_engine(
                self.url,
                poolclass=NullPool,
                connect_args={
                    "connect_timeout": 10,
                    "keepalives": 1,
                    "keepalives_idle": KEEPALIVE_S,
                    "keepalives_interval": KEEPALIVE_INTERVAL_S,
                    "keepalives_count": KEEPALIVE_COUNT,
                    "tcp_user_timeout": LOCK_TIMEOUT_S * 1000,
                    "options": _server_keepalive(self.url.query.get("options")),
                },
            )
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(
            self._conn.execute(text(f"SELECT pg_try_advisory_lock({RECONCILER_LOCK})")).scalar()
        )
        return got

    def _try_file(self) -> bool:
        path = sqlite_path(self.url)
        if path is None:
            return True  # in-memory: this process's alone
        lock = f"{path}-reconciler.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder removes the file when it releases (no litter beside the
            # database); a lock taken on a file already removed, or replaced since it was
            # opened, is nobody's: only the file at the path counts.
            mine, there = os.fstat(fd), os.stat(lock)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        if (mine.st_dev, mine.st_ino) != (there.st_dev, there.st_ino):
            os.close(fd)
            return False
        self._fd, self._file = fd, lock
        return True

    def held(self) -> bool:
        """Whether the lock is still this process's (PostgreSQL: its session answers)."""
        if self._conn is None:
            return True  # SQLite: a flock is held until released or the process ends
        try:
            self._conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.error("the reconciler lock's session broke (%s): the lock may be lost", exc)
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError, OSError):
                self._conn.close()  # ends the session: PostgreSQL releases the lock
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._file)  # while still held: see _try_file
            with contextlib.suppress(OSError):
                os.close(self._fd)  # releases the flock
            self._fd = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _server_keepalive(given: object) -> str:
    """The session's server-side TCP keepalive (libpq `options`, after the URL's own)."""
    mine = (
        f"-c tcp_keepalives_idle={KEEPALIVE_S} -c tcp_keepalives_interval={KEEPALIVE_INTERVAL_S}"
        f" -c tcp_keepalives_count={KEEPALIVE_COUNT}"
    )
    return f"{given} {mine}" if isinstance(given, str) and given else mine

"""Best-effort mirror of the cluster's objects into the database, with an audit row per change.

The cluster is the truth; the database is a copy for history, rollback and the console.
Changes are queued in order and written by one thread; when the database is down the
queue grows, reconciliation goes on, and the lag shows as metrics and as each changed
object's `Mirrored` condition. After a restart the first write compares every object
with its row, so nothing is lost and nothing is recorded twice; so does the first write
after an outage, once the changes queued meanwhile are written.

Finished shard moves (sinks/sharded_moves.py) are queued beside the changes and written as
`Placement` audit rows the same way: in order, retried while the database is down, fenced.
A move row is written unless the customer's latest Placement row already is that move (a
commit whose answer was lost, retried), so a retry never doubles it (store/mirror.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import AlertplaneError, ObjectRef
from ..metrics import REGISTRY
from ..model.records import ObjectStatus
from ..store.db import database_url, make_engine, migrate
from ..store.mirror import delete_others, load_live, write_changes, write_move, write_statuses
from .changes import SOURCE, Change, MoveEntry

log = logging.getLogger("alertplane.mirror")

MIRROR_PENDING = Gauge(
    "alertplane_mirror_pending_changes",
    "Object changes not yet written to the database.",
    registry=REGISTRY,
)
MIRROR_LAG = Gauge(
    "alertplane_mirror_lag_seconds",
    "Age of the oldest object change not yet written to the database (0: caught up).",
    registry=REGISTRY,
)
MIRROR_UP = Gauge(
    "alertplane_mirror_up", "1 when the last database write succeeded.", registry=REGISTRY
)
MIRROR_ERRORS = Counter(
    "alertplane_mirror_errors_total", "Failed attempts to write to the database.", registry=REGISTRY
)


def _with_timeout(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername.startswith("postgresql") and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": "5"})
    return parsed.render_as_string(hide_password=False)


class Mirror:
    def __init__(
        self,
        url: str | None,
        snapshot: Callable[[Callable[[], None]], list[Change]],
        scope: set[str],
        retry_max_s: float = 10.0,
    ) -> None:
        self.url = _with_timeout(database_url(url))
        self._snapshot = snapshot  # the state's live objects, for the full comparison
        self.scope = scope  # namespaces (empty: all) whose rows the cluster owns
        self.retry_max_s = retry_max_s
        self._sessions: sessionmaker[Session] | None = None
        self._lock = threading.Lock()
        self._queue: deque[Change] = deque()
        self._moves: deque[MoveEntry] = deque()  # finished shard moves, audited in order
        self._statuses: dict[ObjectRef, ObjectStatus] = {}
        self._pending: dict[ObjectRef, int] = {}  # ref → queued changes
        self._compared = False  # the full comparison after start has been written
        self._recompare = False  # a write failed: compare again once the queue is written
        self._wake = threading.Event()
        self.error = ""
        self.on_mirrored: list[Callable[[list[ObjectRef]], None]] = []
        # Rows created while running (new objects, or rows a restored database lost): their
        # status row starts Pending, so the current status must be recorded again; the
        # state only reports statuses that change.
        self.on_created: list[Callable[[list[ObjectRef]], None]] = []
        # Raises when this replica may not write now (k8s/leader.py): a paused leader
        # resumed after another took over must not add audit rows the new one adds too.
        self.fence: Callable[[], None] = lambda: None

    # -- producers (called under the state lock: changes arrive in order) ---------------
    def record(self, change: Change) -> None:
        with self._lock:
            self._queue.append(change)
            self._pending[change.ref] = self._pending.get(change.ref, 0) + 1
        self._wake.set()

    def record_move(self, move: MoveEntry) -> None:
        """A finished shard move (the sink's `moves.on_moved`): queued, never waited on."""
        with self._lock:
            self._moves.append(move)
        self._wake.set()

    def record_status(self, ref: ObjectRef, status: ObjectStatus) -> None:
        with self._lock:
            self._statuses[ref] = status
        self._wake.set()

    def mirrored(self, ref: ObjectRef) -> tuple[bool | None, str]:
        """Whether this object's latest change is in the database, and if not, why; None
        while the first comparison after start is still to come (the database may well
        match already: a restart must not flip every Mirrored condition to False and back,
        two status patches per object)."""
        with self._lock:
            waiting = ref in self._pending or not self._compared
            queued = len(self._queue)
            unknown = not self._compared and not self.error
        if not waiting:
            return True, ""
        if unknown:
            return None, f"waiting for the database; {queued} change(s) queued"
        why = f"database unavailable: {self.error}" if self.error else "waiting for the database"
        return False, f"{why}; {queued} change(s) queued, written when it is back"

    # -- startup ------------------------------------------------------------------------
    def load_live(self) -> dict[ObjectRef, tuple[int, dict[str, Any]]]:
        """Last valid versions kept in the database (best effort: {} when it is down)."""
        try:
            sessions = self._connect()
            with sessions() as s:
                return load_live(s)
        except (SQLAlchemyError, OSError, AlertplaneError) as exc:
            log.warning("database unavailable at start, last valid versions unknown: %s", exc)
            return {}

    def _connect(self) -> sessionmaker[Session]:
        if self._sessions is None:
            engine = make_engine(self.url)
            migrate(engine)
            self._sessions = sessionmaker(engine, expire_on_commit=False)
        return self._sessions

    def close(self) -> None:
        """Close the database connections (an SQLite file is left without -wal and -shm)."""
        sessions, self._sessions = self._sessions, None
        if sessions is not None:
            sessions.kw["bind"].dispose()

    # -- the writer thread ----------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                done = self.flush()
                MIRROR_UP.set(1)
                self.error, delay = "", 0.5
                if done:
                    for listener in self.on_mirrored:
                        listener(done)
            except (SQLAlchemyError, OSError, AlertplaneError) as exc:
                self._sessions = None  # reconnect (and re-migrate) next time
                self.error = str(exc).splitlines()[0][:300]
                MIRROR_UP.set(0)
                MIRROR_ERRORS.inc()
                log.warning("database write failed, retrying in %.1fs: %s", delay, self.error)
                with self._lock:
                    waiting = list(self._pending)
                for listener in self.on_mirrored:  # the Mirrored conditions say why
                    listener(waiting)
                stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            finally:
                self._gauges()
            self._wake.wait(1.0)
            self._wake.clear()

    def flush(self) -> list[ObjectRef]:
        """Write what is queued; returns the objects now mirrored. Raises when the DB fails."""
        try:
            return self._flush()
        except BaseException:
            # The database may come back without commits it acknowledged (lost WAL, a
            # restored backup): rows the mirror believes written could be missing or stale.
            self._recompare = True
            raise

    def _flush(self) -> list[ObjectRef]:
        sessions = self._connect()
        done: list[ObjectRef] = []
        created: list[ObjectRef] = []
        if not self._compared:
            self.fence()
            done += self._compare_all(sessions, created)
        while True:
            with self._lock:
                if not self._queue:
                    break
                change = self._queue[0]
            self.fence()
            with sessions.begin() as s:
                created += write_changes(s, [change], SOURCE)
            with self._lock:
                self._queue.popleft()
                left = self._pending.get(change.ref, 1) - 1
                if left:
                    self._pending[change.ref] = left
                else:
                    self._pending.pop(change.ref, None)
                    done.append(change.ref)
        self._write_moves(sessions)
        if self._recompare:
            # Only now: each queued change is an audit row with its own actor, which the
            # comparison would collapse into one. Nothing is returned: mirrored() answered
            # True for these objects all along and still does.
            self.fence()
            self._compare_all(sessions, created, again=True)
        if created:
            for listener in self.on_created:  # recorded now, written just below
                listener(created)
        with self._lock:
            statuses, self._statuses = self._statuses, {}
        try:
            self.fence()
            with sessions.begin() as s:
                write_statuses(s, statuses)
        except BaseException:
            with self._lock:  # keep them for the next attempt, unless newer ones came
                self._statuses = {**statuses, **self._statuses}
            raise
        return done

    def _write_moves(self, sessions: sessionmaker[Session]) -> None:
        """The queued moves, oldest first; one left queued when its write fails. The
        comparison at start does not touch them: a move is no object the cluster holds."""
        while True:
            with self._lock:
                if not self._moves:
                    return
                move = self._moves[0]
            self.fence()
            with sessions.begin() as s:
                write_move(s, move)
            with self._lock:
                self._moves.popleft()

    def _compare_all(
        self, sessions: sessionmaker[Session], created: list[ObjectRef], again: bool = False
    ) -> list[ObjectRef]:
        """Make the database match the cluster; queued changes are part of the snapshot.
        `again` (after an outage): the queue must be empty, else the next flush retries."""
        refs: list[ObjectRef] = []
        late = False

        def forget_queued() -> None:  # under the state lock: no change can slip between
            nonlocal late
            with self._lock:
                late = again and bool(self._queue)  # came after the drain: write it first
                if not again:
                    self._queue.clear()
                    refs.extend(self._pending)
                    self._pending.clear()

        live = self._snapshot(forget_queued)
        if late:
            return []
        keys = {(c.kind, c.namespace, c.name) for c in live}
        with sessions.begin() as s:
            created += write_changes(s, live, SOURCE)
            delete_others(s, keys, self.scope, SOURCE)
        self._compared, self._recompare = True, False
        return [] if again else refs + [c.ref for c in live]

    def _gauges(self) -> None:
        with self._lock:
            MIRROR_PENDING.set(len(self._queue) + len(self._moves))
            oldest = self._queue[0].time.timestamp() if self._queue else None
        MIRROR_LAG.set(0 if oldest is None else max(0.0, time.time() - oldest))

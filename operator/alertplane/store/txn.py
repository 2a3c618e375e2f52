"""The write transaction every store change runs in, and its preconditions.

Three rules make concurrent writers safe on SQLite and PostgreSQL alike:

1. A write reads the object it changes under a write lock — SQLite: the transaction
   starts with `BEGIN IMMEDIATE` (the database's one writer lock, taken before the read);
   PostgreSQL: the read is `SELECT … FOR UPDATE` (the row's lock) — and the UPDATE is
   conditional on the generation it read, so no change is ever computed from a stale
   read (a lost update). Should the condition still fail, the transaction is retried.
2. A caller may state what it expects: the generation it last saw (HTTP `If-Match`),
   that the object exists, or that it does not; a read-modify-write of its own (PATCH
   enabled, POST …/routing) states the object it read (`Read`); `Stale` refuses the write.
3. The audit rows — one per change, also the reconciler's change feed (ordered by id) —
   are inserted last, PostgreSQL: under one transaction-scoped advisory lock held until
   commit, so audit ids are handed out in commit order and a reader that saw id n has
   seen every id below it (no sequence-gap race). SQLite's writer lock gives the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..errors import AlertplaneError, ObjectRef
from . import writes

log = logging.getLogger("alertplane.store")

ABSENT = 0  # expect: the object must not exist (a create)
EXISTS = -1  # expect: the object must exist, whatever its generation
ATTEMPTS = 20  # of a transaction that raced (a safety net: the locks make it rare)
# pg_advisory_xact_lock key of the audit feed ("alertpla" as a big-endian int64).
FEED_LOCK = int.from_bytes(b"alertpla", "big") >> 1
_LOCK_FEED = text(f"SELECT pg_advisory_xact_lock({FEED_LOCK})")  # built once
# PostgreSQL serialization failure and deadlock (batch writes lock rows in their order).
_RETRY_SQLSTATE = frozenset({"40001", "40P01"})

T = TypeVar("T")


class Stale(AlertplaneError):
    """The object is not what the writer expected: nothing was written."""

    def __init__(self, ref: ObjectRef, expected: int, actual: int | None) -> None:
        self.ref, self.expected, self.actual = ref, expected, actual
        now = "does not exist" if actual is None else f"is at generation {actual}"
        super().__init__(f"{ref} {now} (expected {describe(expected)})")


class Owned(AlertplaneError):
    """The identity holds another customer's object and the writer may not move it (only
    an admin's write moves objects between customers): nothing was written."""

    def __init__(self, ref: ObjectRef) -> None:
        self.ref = ref
        super().__init__(f"{ref} is another customer's object", "choose another metadata.name")


class Raced(Exception):
    """A conditional write matched no row: another writer got there first; retry."""


@dataclass(frozen=True)
class Read:
    """What a read-modify-write was computed from: the object at `generation`, with this
    spec and these labels. The generation alone does not say it: it starts at 1 again when
    the object is deleted and created again, and a write checked against it alone replaced
    the new object's spec with one computed from the old object's (a lost update: the
    PATCH wrote back a spec no acknowledged write had left there)."""

    generation: int
    spec: dict[str, Any]
    labels: dict[str, str]


Expect = int | Read  # ABSENT, EXISTS, a generation, or what was read


def describe(expected: int) -> str:
    return {ABSENT: "absent", EXISTS: "any generation"}.get(expected, f"generation {expected}")


def check(
    ref: ObjectRef,
    expected: Expect | None,
    actual: int | None,
    now: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> None:
    """Raise `Stale` unless an object at `actual` (None: absent), whose spec and labels are
    `now`, is what `expected` says."""
    if expected is None:
        return
    if isinstance(expected, Read):
        if actual != expected.generation or now != (expected.spec, expected.labels):
            raise Stale(ref, expected.generation, actual)
        return
    ok = (
        actual is None
        if expected == ABSENT
        else actual is not None and (expected == EXISTS or actual == expected)
    )
    if not ok:
        raise Stale(ref, expected, actual)


@dataclass
class Tx:
    """One write transaction: its connection and the audit rows it writes at the end."""

    conn: Connection
    postgres: bool
    audits: list[tuple[Any, ...]] = field(default_factory=list)

    def audit(self, *row: Any) -> None:
        """`writes.audit` arguments after `conn`: inserted at commit, in this order."""
        self.audits.append(row)

    def flush(self) -> None:
        if not self.audits:
            return
        if self.postgres:  # held until commit: audit ids are assigned in commit order
            self.conn.execute(_LOCK_FEED)
        for row in self.audits:
            writes.audit(self.conn, *row)


def run(engine: Engine, work: Callable[[Tx], T]) -> T:
    """`work` in one write transaction (see the module doc), retried when it raced."""
    sqlite = engine.dialect.name == "sqlite"
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                if sqlite:
                    # pysqlite would open a deferred transaction at the first INSERT or
                    # UPDATE, after the reads; take the writer lock before them instead.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                tx = Tx(conn, postgres=not sqlite)
                out = work(tx)
                tx.flush()
            return out
        except Raced:
            log.info("write raced another (attempt %d); retrying", attempt)
        except IntegrityError:
            # A concurrent create of the same identity committed first: read it again
            # (a create then answers Stale; an apply becomes an update).
            if attempt == ATTEMPTS:
                raise
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _RETRY_SQLSTATE or attempt == ATTEMPTS:
                raise
            log.info("write transaction aborted (%s); retrying", exc.orig)
    raise AlertplaneError(f"a write raced other writers {ATTEMPTS} times; retry it")

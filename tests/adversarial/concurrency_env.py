"""What the concurrency tests share: writes fired from many threads at once, and the one
invariant every schedule must keep: the audit trail of an object is a single chain.

Each acknowledged change is exactly one generation and one audit row; the rows of one
incarnation of an object (from its create to its delete) carry generations 1..n in
commit order, each row's `before` is the previous row's `after` (a write that was computed
from a stale read breaks the chain), and refused writes leave no row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertplane.store.tables import AuditRow

T = Callable[[], Any]


def at_once(calls: Sequence[T], workers: int | None = None) -> list[Any]:
    """Run `calls` from threads released together; their results in order."""
    n = min(workers or len(calls), len(calls))
    opened = threading.Event()
    gate = threading.Barrier(n, action=opened.set)

    def run(call: T) -> Any:
        if not opened.is_set():  # the first `n` start together, the rest as threads free up
            gate.wait(timeout=120)
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, calls))


def eventually(check: Callable[[], Any], timeout: float = 120.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


def marker(spec: dict[str, Any] | None) -> str | None:
    """The write a spec came from (each test write puts a unique one in its description)."""
    if spec is None:
        return None
    return (spec.get("annotations") or {}).get("description")


@dataclass(frozen=True)
class Ack:
    """One acknowledged write: what it was, the generation it answered, its marker."""

    # create put apply (the CLI: no generation answered) route (POST …/routing) patch
    # rollback delete
    op: str
    generation: int
    mark: str | None = None
    enabled: bool | None = None


def check_chain(
    rows: Sequence[AuditRow],
    acks: Sequence[Ack],
    mark: Callable[[dict[str, Any] | None], str | None] = marker,
) -> None:
    """The audit trail of one object against the acknowledged writes (see module doc);
    `mark` tells which write a spec came from."""
    assert rows, "no audit rows"
    incarnation: list[AuditRow] = []
    for row in rows:
        if row.action == "create":
            assert not incarnation or incarnation[-1].action == "delete", (
                f"create while the object existed (gen {row.generation})"
            )
            incarnation = []
            assert row.before is None
        else:
            assert incarnation, f"{row.action} of an object that did not exist"
            prev = incarnation[-1]
            assert prev.action != "delete", f"{row.action} after a delete (a resurrection)"
            assert row.before == prev.after, (
                f"lost update: generation {row.generation} ({row.action}) was computed from "
                f"{mark(row.before)!r}, but generation {prev.generation} was "
                f"{mark(prev.after)!r}"
            )
        want = len(incarnation) + (0 if row.action == "delete" else 1)
        assert row.generation == want, (
            f"{row.action} recorded as generation {row.generation}, expected {want} "
            f"(generations so far: {[r.generation for r in incarnation]})"
        )
        incarnation.append(row)
    # Every acknowledged PUT is exactly one row (the one that brought its mark), an update
    # at the generation it answered.
    written = [r for r in rows if r.action in ("create", "update")]
    for ack in acks:
        if ack.op in ("put", "create", "apply"):
            mine = [r for r in written if mark(r.after) == ack.mark != mark(r.before)]
            assert len(mine) == 1, f"{ack.op} {ack.mark}: {len(mine)} audit rows"
            assert ack.op == "apply" or mine[0].generation == ack.generation, (
                f"{ack.op} {ack.mark} answered generation {ack.generation}, "
                f"recorded as {mine[0].generation}"
            )
            assert mine[0].action == ("create" if ack.op == "create" else "update")
    # A PATCH of `enabled` changes nothing else.
    for row in rows:
        if row.action in ("enable", "disable") and row.before is not None:
            assert mark(row.before) == mark(row.after)
    # As many changes as acknowledged changes: nothing extra, nothing merged.
    assert len(written) == sum(1 for a in acks if a.op in ("put", "create", "apply", "route"))


def rules_text(out: Path, customer: str) -> str:
    path = out / "rules" / f"{customer}.yml"
    return path.read_text(encoding="utf-8") if path.exists() else ""

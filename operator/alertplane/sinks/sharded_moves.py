"""Moving a customer between shards without a gap: the protocol every sharded sink follows.

A customer's rules are written to its (new) shard while the shard it leaves keeps its copy;
only once the new shard has loaded them (the sink's liveness: for the files sink, asked of
that Prometheus' `/api/v1/rules`) is the old copy removed and the old shard reloaded. So at
every moment at least one shard evaluates the customer's rules: for the short overlap both
do, and Alertmanager de-duplicates the alerts both send (same labels). A new shard that
does not load them (down, refusing) leaves the customer where it was, evaluated, and the
move is tried again on the next pass.

The sink says where a customer's copies are (`holders`), removes one (`remove`) and
reloads the shards left (its own reloads); this module only decides when, so the files,
ConfigMap and prometheus-operator sinks share it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from .base import Liveness

log = logging.getLogger("alertplane.shards")


@dataclass(frozen=True)
class Moved:
    """A finished move: `customer_id`'s rules left `source` (None: the unsharded output)
    after `target` had loaded them. Audited (`on_moved`)."""

    customer_id: str
    source: str | None
    target: str


class MoveTracker:
    """Customers with copies on shards other than their own, and when they may leave them."""

    def __init__(self) -> None:
        # customer → the shards it is to leave (None: the unsharded output)
        self.leaving: dict[str, set[str | None]] = {}
        self.on_moved: list[Callable[[Moved], None]] = []  # the audit (serve: the store)

    def note(self, customer_id: str, placed: str, holders: Collection[str | None]) -> None:
        """`customer_id` is placed on `placed` and has copies on `holders` (its own too)."""
        others = {h for h in holders if h != placed}
        if others:
            self.leaving[customer_id] = others
        else:
            self.leaving.pop(customer_id, None)

    def forget(self, customer_id: str) -> None:
        """The customer's output went away everywhere (no rules left): nothing to move."""
        self.leaving.pop(customer_id, None)

    def ready(self, live: Callable[[str], Liveness]) -> list[str]:
        """The leaving customers whose own shard has loaded them (`live`), sorted: their
        old copies may go. A customer whose new shard has not (Pending, ReloadFailed) stays
        where it is, evaluated there, until a later pass finds it live."""
        found, waiting = [], []
        for customer_id in sorted(self.leaving):
            answer = live(customer_id)
            if answer.synced:
                found.append(customer_id)
            else:
                waiting.append((customer_id, answer.message or answer.reason))
        if waiting:  # one line per pass: a crowd moving to a down shard is one event
            shown = ", ".join(c for c, _ in waiting[:5])
            more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
            log.info(
                "%d customer(s) stay on their old shard until the new one has them (%s%s); %s: %s",
                len(waiting),
                shown,
                more,
                waiting[0][0],
                waiting[0][1][:300],
            )
        return found

    def finish(self, customer_id: str, placed: str, left: Collection[str | None]) -> None:
        """The old copies in `left` are removed: audit each move, forget the customer."""
        self.leaving.pop(customer_id, None)
        for source in sorted(left, key=lambda s: s or ""):
            moved = Moved(customer_id, source, placed)
            log.info("moved %s from %s to %s", customer_id, source or "unsharded", placed)
            for listener in self.on_moved:
                try:
                    listener(moved)
                except Exception:  # an audit that failed must not undo a move that happened
                    log.exception("recording the move of %s failed", customer_id)

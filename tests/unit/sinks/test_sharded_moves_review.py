"""A crowd moving at once (sinks/sharded_moves.py): hundreds of customers moving to a
shard that is down must not flood the log with a line per customer on every pass."""

from __future__ import annotations

import logging

import pytest

from alertplane.sinks.base import Liveness
from alertplane.sinks.sharded_moves import MoveTracker


def test_hundreds_waiting_for_a_down_shard_log_one_line_per_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    moves = MoveTracker()
    crowd = [f"cust-{i:03d}" for i in range(500)]
    for c in crowd:
        moves.note(c, "d", {"a", "d"})
    down = Liveness(False, "ReloadFailed", "prometheus/d: connection refused")
    with caplog.at_level(logging.INFO, logger="alertplane.shards"):
        assert moves.ready(lambda c: down) == []
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines[:3]
    assert "500" in lines[0] and "connection refused" in lines[0] and "cust-000" in lines[0]
    assert len(lines[0]) < 1000, lines[0]

"""The elector judges a Lease's expiry on a clock that wall-clock steps do not move.

kubernetes_asyncio's elector (the client-go port) takes over a Lease once it has seen
the same record unchanged for lease_s, timed with `time.time()`: an NTP step (or a VM
resumed with its clock caught up) an hour ahead on a follower made it take a Lease its
holder renewed a second ago, and both replicas wrote until the holder's own fence ran out
(~lease_s). client-go times this with Go's monotonic clock reading; so does alertplane's
elector now (k8s/leader.py)."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest
from kubernetes_asyncio.leaderelection.electionconfig import Config
from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection
from kubernetes_asyncio.leaderelection.leaderelectionrecord import LeaderElectionRecord

import alertplane.k8s.leader  # noqa: F401  # the elector as the operator runs it


class HeldLock:
    """A Lease held by another replica, as the API server would answer it."""

    name, namespace, identity = "op", "ns", "follower"

    def __init__(self) -> None:
        now = str(datetime.datetime.now())
        self.record = LeaderElectionRecord("leader", "15", now, now)
        self.updates: list[Any] = []

    async def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        return True, self.record

    async def create(self, name: str, namespace: str, election_record: Any) -> bool:
        self.updates.append(election_record)
        return True

    async def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        self.updates.append(updated_record)
        return True


async def _nothing() -> None:
    pass


def test_a_wall_clock_step_does_not_make_a_follower_take_a_live_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lock = HeldLock()
    elector = LeaderElection(Config(lock, 15, 10, 2, _nothing, _nothing))
    assert asyncio.run(elector.try_acquire_or_renew()) is False  # held by "leader"
    wall = time.time
    monkeypatch.setattr(time, "time", lambda: wall() + 3600)  # stepped an hour ahead
    assert asyncio.run(elector.try_acquire_or_renew()) is False
    assert lock.updates == [], "the follower took a Lease renewed a moment ago"


def test_the_fence_counts_time_the_machine_was_suspended() -> None:
    """CLOCK_MONOTONIC stops while the machine (a VM) is suspended: a leader resumed after
    a minute would find its 15 s lease still held and write beside the new leader.
    CLOCK_BOOTTIME runs on; the fence and the elector's clock read it."""
    from alertplane.k8s import leader

    lease = leader.Lease(15)
    assert lease.clock is leader.steady
    assert leader.STEADY_CLOCK == time.CLOCK_BOOTTIME
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    assert before <= leader.steady() <= time.clock_gettime(time.CLOCK_BOOTTIME)

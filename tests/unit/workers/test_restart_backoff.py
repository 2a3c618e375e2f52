"""A worker that keeps dying is started again later and later (workers.py).

Before, a worker dying at start-up (a broken deployment, the OOM killer at each start)
was spawned again every second, forever, per worker: with 8 workers, 8 interpreters
importing the app every second on the cores the reconciler and the other workers need.
Now each consecutive short-lived run doubles the wait (up to RESTART_MAX_S), and a run
that lasted STABLE_S starts the count over. No processes: the spawn is replaced."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, cast

from alertplane import workers
from alertplane.serve_state import SyncView
from alertplane.workers import RESTART_MAX_S, RESTART_MIN_S, STABLE_S, Workers


class Dead:
    """A worker process that has exited."""

    pid, exitcode = 4242, 1

    def is_alive(self) -> bool:
        return False

    def close(self) -> None:
        pass


class View:
    serving: ClassVar[list[int]] = [0]


class Pool(Workers):
    def __init__(self) -> None:
        super().__init__(1, cast(Any, None), cast(Any, None), cast(SyncView, View()))
        self.spawned: list[float] = []

    def _spawn(self, i: int) -> Any:
        return Dead()  # dies at once, every time

    def starts(self, until: float, step: float = 0.5) -> list[float]:
        now = 0.0
        self.spawned = []
        while now <= until:
            before = self._procs[0]
            self.restart_exited(now)
            if self._procs[0] is not before:
                self.spawned.append(now)
            now += step
        return self.spawned


def test_a_worker_dying_at_each_start_is_started_again_ever_later() -> None:
    pool = Pool()
    pool._start(0, 0.0)
    starts = pool.starts(600.0)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= RESTART_MIN_S
    assert all(b >= a for a, b in itertools.pairwise(gaps)), gaps  # never faster
    assert gaps[-1] >= RESTART_MAX_S  # capped
    assert len(starts) < 40, "spawned about once a second"


def test_a_worker_that_ran_for_a_while_is_started_again_at_once() -> None:
    pool = Pool()
    pool._start(0, 0.0)
    pool.starts(300.0)  # a crash loop: the wait grew
    assert pool._failures[0] > 3
    pool._start(0, 1000.0)  # then a start that lasted
    pool.restart_exited(1000.0 + STABLE_S)  # it died after STABLE_S
    assert pool._failures[0] == 0
    assert pool._started[0] == 1000.0 + STABLE_S  # started again at once
    assert workers.RESTART_MIN_S <= RESTART_MAX_S

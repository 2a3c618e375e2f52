"""Reloads of Alertmanager replicas, off the reconciler's pass.

Every replica of `alertmanager.replicas` is reloaded on each change (sinks/replicas.py).
Asked inline, one replica that hangs (stopped, its node gone: the connection is accepted or
silently dropped, and nothing answers before the 30 s timeout, four attempts) would hold
the pass, and with it every customer's change, for minutes, again on every re-check. So a
replica's reload runs in a background thread: all replicas at once, one reload per replica
at a time (a reload still in flight is waited on, never repeated). The pass waits for the
answer at most `WAIT_S` (`WAIT_DOWN_S` for a replica already known down) and otherwise
calls the replica down: Pending, naming it, asked again on the next re-check. The waits
bound latency only: an answer that comes later is taken on the next pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .base import ReloadOutcome

WAIT_S = 10.0  # a healthy replica answers in well under a second, a large config in seconds
WAIT_DOWN_S = 1.0  # already known down: the pass barely waits
ATTEMPTS, ATTEMPTS_DOWN = 4, 1  # known down: once per pass; the next re-check asks again

ReloadFn = Callable[[str, int], ReloadOutcome]


class _Reload:
    """One reload in a daemon thread: a hanging replica never delays the process' exit
    (an executor's worker threads are joined at exit)."""

    def __init__(self, fn: ReloadFn, url: str, attempts: int) -> None:
        self.done = threading.Event()
        self.outcome = ReloadOutcome(False, 0, f"{url}/-/reload: the reload broke off", False)
        args = (fn, url, attempts)
        threading.Thread(target=self._run, args=args, daemon=True, name="alertplane-reload").start()

    def _run(self, fn: ReloadFn, url: str, attempts: int) -> None:
        try:
            self.outcome = fn(url, attempts)
        finally:
            self.done.set()


class Background:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, _Reload] = {}

    def start(self, target: str, url: str, fn: ReloadFn, attempts: int) -> None:
        """Start reloading `target` unless a reload of it is still in flight."""
        with self._lock:
            if target not in self._inflight:
                self._inflight[target] = _Reload(fn, url, attempts)

    def answer(self, target: str, url: str, wait_s: float) -> ReloadOutcome:
        """The answer of `target`'s reload (started by `start`), waiting at most `wait_s`."""
        with self._lock:
            running = self._inflight[target]
        if not running.done.wait(wait_s):
            return ReloadOutcome(
                False, 0, f"{url}/-/reload: no answer yet (a reload is in flight)", False
            )
        with self._lock:
            self._inflight.pop(target, None)
        return running.outcome

"""Shutdown: SIGTERM (what Kubernetes sends) and SIGINT (Ctrl-C) mean the same thing.

The first signal asks every part of the process to stop (the HTTP server stops accepting
and finishes its requests, the reconciler finishes its pass, databases are closed — an
SQLite database is left without its -wal/-shm files) and the process exits 0. If that
takes longer than the grace period, or a second signal arrives, the process exits at once
with EXIT_FORCED, saying so. The grace period stays below Kubernetes' default
terminationGracePeriodSeconds (30 s), so the kubelet never has to SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

log = logging.getLogger("alertplane.lifecycle")

GRACE_S = 20.0
EXIT_FORCED = 3
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self.requested = threading.Event()
        self.signal: str | None = None
        self._callbacks: list[Callable[[], None]] = []

    def on_request(self, callback: Callable[[], None]) -> None:
        """`callback` runs (in the main thread) when shutdown is asked for."""
        self._callbacks.append(callback)
        if self.requested.is_set():
            callback()

    def request(self, why: str) -> None:
        if self.requested.is_set():
            return
        self.signal = why
        log.info("%s: shutting down (at most %.0fs)", why, self.grace_s)
        self.requested.set()
        timer = threading.Timer(
            self.grace_s, self._force, ("did not finish within the grace period",)
        )
        timer.daemon = True
        timer.start()
        for callback in self._callbacks:
            callback()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            self._force(f"second signal ({name})")
        self.request(f"received {name}")

    def _force(self, why: str) -> None:
        print(f"error: shutdown {why}; exiting now", file=sys.stderr, flush=True)
        os._exit(EXIT_FORCED)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Shutdown]:
        """Handle SIGTERM and SIGINT for the duration (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

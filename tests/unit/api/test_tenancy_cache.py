"""The API's cache of namespace bindings (kube/namespaces.py) when the API server is slow or down.

The behaviour under test is the cache's concurrency (one list at a time, no list right
after a failed one, stale answers while one runs), so the Kubernetes client is replaced by
a small stand-in that answers a namespace list slowly or fails: a real API server cannot be
made to hang for exactly one list on demand. The real listing and filtering are covered
against a real kube-apiserver in tests/e2e/test_api_kubernetes.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

from alertplane.api.errors import BadGateway
from alertplane.errors import Unavailable
from alertplane.kube.client import ApiError, KubeClient
from alertplane.kube.namespaces import NamespaceBindings

NAMESPACES = [{"metadata": {"name": "acme", "labels": {"alertplane.io/customer": "acme"}}}]


class SlowServer:
    """Lists namespaces after `delay` seconds, or fails with `status` when set."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.status: int | None = None
        self.calls = 0
        self._lock = threading.Lock()

    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.status is not None:
            raise ApiError(self.status, f"HTTP {self.status}")
        return iter(NAMESPACES)


def bindings(server: SlowServer) -> NamespaceBindings:
    return NamespaceBindings(cast(KubeClient, server), ttl_s=0.05)


def concurrently(n: int, call: Any) -> list[float]:
    took: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        start = time.monotonic()
        with contextlib.suppress(Unavailable, BadGateway):
            call()
        with lock:
            took.append(time.monotonic() - start)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return took


def test_a_failing_api_server_is_asked_once_and_the_cached_bindings_answer() -> None:
    server = SlowServer()
    cache = bindings(server)
    assert cache.namespaces_of("acme") == {"acme"}
    time.sleep(0.06)  # expired
    server.delay, server.status = 0.5, 504
    took = concurrently(6, lambda: cache.namespaces_of("acme"))
    # One list for all six; the five others answered from the cache at once (they were
    # once answered one after another, 0.5 s each, while holding the lock).
    assert server.calls == 2
    assert sorted(took)[4] < 0.4
    # Right after the failure nobody asks again, and the last bindings still answer.
    assert cache.namespaces_of("acme") == {"acme"} and server.calls == 2


def test_without_any_bindings_reads_are_refused_not_unfiltered() -> None:
    server = SlowServer()
    server.status = 503
    cache = bindings(server)
    with pytest.raises(Unavailable, match="tenant binding is unknown"):
        cache.namespaces_of("acme")
    server.status = 403
    time.sleep(2.1)  # after the pause that follows a failure
    with pytest.raises(BadGateway, match="needs `list namespaces`"):
        cache.namespaces_of("acme")


def test_waiters_without_bindings_share_one_list() -> None:
    server = SlowServer(delay=0.3)
    cache = bindings(server)
    results: list[frozenset[str]] = []
    concurrently(5, lambda: results.append(cache.namespaces_of("acme")))
    assert server.calls == 1 and results == [frozenset({"acme"})] * 5

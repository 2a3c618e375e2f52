"""Leader election's fence (k8s/leader.py): the lease as this process sees it on its own
clock, the client refusing writes unless it is held, the elector surviving an API server
it cannot reach, status patches preconditioned on the version they were composed from.
The election itself runs on a real API server in tests/e2e/test_operator_leader.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast

import kopf
import pytest

from alertplane.errors import ObjectRef, UsageError
from alertplane.k8s import leader
from alertplane.k8s.leader import (
    SKEW,
    FencedLeaseLock,
    LeaderSettings,
    Lease,
    NotLeading,
    default_identity,
    default_namespace,
)
from alertplane.k8s.publish import Publisher
from alertplane.k8s.state import ClusterState
from alertplane.kube.client import ApiError, KubeClient
from tests.support.factories import alert, body
from tests.support.processes import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_lease_holds_from_when_the_renewal_was_sent_not_when_it_was_answered() -> None:
    clock = Clock()
    lease = Lease(10, clock)
    assert not lease.held()  # never renewed
    sent = clock.now
    clock.now += 4  # the answer took 4 s (or the process was paused meanwhile)
    lease.renewed(sent)
    assert lease.held()
    clock.now = sent + 10 * (1 - SKEW) - 0.01
    assert lease.held()
    clock.now = sent + 10 * (1 - SKEW)
    assert not lease.held()  # a follower may take over 10 s after it saw the renewal
    lease.renewed(sent - 5)  # a late answer to an older renewal never shortens it
    lease.renewed(clock.now)
    lease.renewed(sent)
    assert lease.held()
    lease.drop()
    assert not lease.held()


def test_the_fence_refuses_and_counts() -> None:
    lease = Lease(10, Clock())
    before = leader.FENCED._value.get()
    with pytest.raises(NotLeading, match="does not hold the leader Lease"):
        lease.check()
    assert leader.FENCED._value.get() == before + 1


class _Counting(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        type(self).seen.append(self.command)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_PATCH = do_POST = do_DELETE = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    _Counting.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_sends_no_write_without_the_lease_and_reads_anyway(api: str) -> None:
    clock = Clock()
    lease = Lease(10, clock)
    client = KubeClient(lambda: kopf.ConnectionInfo(server=api), fence=lease.check)
    try:
        with pytest.raises(NotLeading):
            client.merge_patch("/apis/x/v1/namespaces/a/things/b", {"spec": {}})
        with pytest.raises(NotLeading):
            client.create("/api/v1/namespaces/a/events", {})
        with pytest.raises(NotLeading):
            client.delete("/apis/x/v1/namespaces/a/things/b")
        assert client.get("/apis/x/v1/namespaces/a/things/b") == {}
        assert _Counting.seen == ["GET"]  # nothing else reached the server
        lease.renewed(clock.now)
        client.merge_patch("/apis/x/v1/namespaces/a/things/b", {"spec": {}})
        assert _Counting.seen == ["GET", "PATCH"]
    finally:
        client.close()


def test_an_unreachable_api_server_is_a_failed_attempt_not_a_dead_elector() -> None:
    """The elector expects ApiException only; a refused connection must not end it."""

    async def attempt() -> tuple[bool, Any, bool]:
        from kubernetes_asyncio import client as k8s

        configuration = k8s.Configuration(host=f"http://127.0.0.1:{free_port()}")
        async with k8s.ApiClient(configuration) as api:
            lease = Lease(10)
            lock = FencedLeaseLock("op", "ns", "me", api, lease)
            found, error = await lock.get("op", "ns")
            from kubernetes_asyncio.leaderelection.electionconfig import Config
            from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection

            async def nothing() -> None:
                pass

            elector = LeaderElection(Config(lock, 10, 5, 1, nothing, nothing))
            return found, error, await elector.try_acquire_or_renew()

    found, error, acquired = asyncio.run(attempt())
    assert (found, acquired) == (False, False)
    assert error.status == 503


def test_only_a_successful_renewal_extends_the_lease() -> None:
    clock = Clock()
    lease = Lease(10, clock)
    lock = FencedLeaseLock.__new__(FencedLeaseLock)
    lock.lease, lock.timeout_s = lease, 1.0

    async def answer(ok: bool) -> bool:
        clock.now += 2  # the request took 2 s
        return ok

    async def broken() -> bool:
        raise OSError("connection reset")

    assert asyncio.run(lock._renewing(answer(False))) is False
    assert not lease.held()
    assert asyncio.run(lock._renewing(broken())) is False
    assert not lease.held()
    sent = clock.now
    assert asyncio.run(lock._renewing(answer(True))) is True
    clock.now = sent + 9 - 0.01
    assert lease.held()  # counted from when it was sent
    clock.now = sent + 9
    assert not lease.held()


def test_election_settings_are_checked_in_the_flags_words() -> None:
    LeaderSettings("ns").check()  # client-go's defaults
    for bad in (
        LeaderSettings("ns", lease_s=10, renew_s=10),
        LeaderSettings("ns", renew_s=2, retry_s=2),
        LeaderSettings("ns", lease_s=4, renew_s=3, retry_s=0.5),
    ):
        with pytest.raises(UsageError, match="--leader-lease-duration") as info:
            bad.check()
        assert "lease > renew deadline > 1.2 × retry period" in str(info.value)


def test_the_lease_namespace_comes_from_the_flag_or_the_pod(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(leader, "SA_NAMESPACE", str(tmp_path / "namespace"))
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert default_namespace("given") == "given"
    with pytest.raises(UsageError, match="--leader-election-namespace"):
        default_namespace(None)
    (tmp_path / "namespace").write_text("from-the-pod\n")
    assert default_namespace(None) == "from-the-pod"
    monkeypatch.setenv("POD_NAMESPACE", "from-env")
    assert default_namespace(None) == "from-env"


def test_each_process_has_its_own_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "alertplane-7c9-x2")
    one, two = default_identity(), default_identity()
    assert one != two and one.startswith("alertplane-7c9-x2_")


def test_the_operator_command_refuses_an_election_it_cannot_hold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from alertplane.cli import main

    monkeypatch.setattr(leader, "SA_NAMESPACE", str(tmp_path / "namespace"))
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    base = ["operator", "--sink", "configmap", "--metrics-port", "0", "--leader-elect"]
    assert main(base) == 2
    assert "--leader-elect needs the namespace of its Lease" in capsys.readouterr().err
    timings = ["--leader-election-namespace", "ns", "--leader-renew-deadline", "20"]
    assert main([*base, *timings]) == 2
    assert "need lease > renew deadline" in capsys.readouterr().err


class _Conflicting:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(patch)
        raise ApiError(409, "the object has been modified")


def test_a_status_patch_names_the_version_it_was_composed_from_and_retries_a_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = ClusterState()
    entry = state.observe(body(alert("acme"), resourceVersion="41"))
    assert entry is not None
    ref = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    client = _Conflicting()
    publisher = Publisher(cast(Any, client), state)
    again: list[list[ObjectRef]] = []
    monkeypatch.setattr(publisher, "enqueue", again.append)
    monkeypatch.setattr("alertplane.k8s.publish.CONFLICT_RETRY_S", 0.0)
    publisher._patch_status(ref, entry, {"phase": "Synced"})
    assert client.patches == [
        {"status": {"phase": "Synced"}, "metadata": {"resourceVersion": "41"}}
    ]

    def retried() -> bool:
        return again == [[ref]]

    for _ in range(200):
        if retried():
            break
        threading.Event().wait(0.01)
    assert retried(), "a refused patch is composed again"

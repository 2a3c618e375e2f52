"""What the API workers are told about the reconciler (serve_state.py), and the checks
of `serve --workers` before anything starts. Integration tier: the shared memory starts
multiprocessing's resource tracker, a process of its own."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alertplane.api.auth import Auth
from alertplane.errors import UsageError
from alertplane.serve import _check_workers
from alertplane.serve_state import METRICS_MAX, STANDBY, SyncView, observed
from alertplane.service.tokens import TokenFile, token_line
from alertplane.store.db import make_engine
from alertplane.store.election import ReconcilerLock


@dataclass
class State:
    ready: threading.Event = field(default_factory=threading.Event)
    failing_since: float | None = None
    failure: str = ""


def client(view: SyncView, auth: Auth | None = None, db_up: bool = True) -> TestClient:
    inner = FastAPI()

    @inner.get("/metrics")
    def metrics() -> str:
        return "the worker's own"

    return TestClient(observed(inner, view, lambda: db_up, 60.0, view.migrated, auth=auth))


def test_readiness_follows_the_reconciling_process() -> None:
    view = SyncView()
    c = client(view)
    body = c.get("/readyz").json()
    assert body["reasons"] == ["database not migrated yet", "initial sync not finished"]
    assert body["reconciler"] == "starting"
    view.migrated.set()
    state = State()
    view.publish(state, metrics=False)
    assert c.get("/readyz").status_code == 503
    state.ready.set()
    state.failing_since, state.failure = 1.0, "reload of prometheus failed"  # long ago
    view.publish(state, metrics=False)
    answer = c.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["syncFailure"] == "reload of prometheus failed"
    state.failing_since, state.failure = None, ""
    view.publish(state, metrics=False)
    assert c.get("/readyz").json() == {"status": "ready", "reconciler": "starting"}
    assert client(view, db_up=False).get("/readyz").json()["reasons"] == ["database unreachable"]


def test_a_standby_is_ready_whatever_its_own_reconciler_says() -> None:
    view = SyncView()
    view.migrated.set()
    view.publish(State(failing_since=1.0, failure="sync error"), metrics=False)
    view.set_role(STANDBY)
    assert client(view).get("/readyz").json() == {"status": "ready", "reconciler": "standby"}


def test_workers_answer_metrics_with_the_reconcilers_for_admins_only(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        token_line("ops", "admin", "ap_admin") + "\n" + token_line("a", "customer:acme", "ap_a")
    )
    view = SyncView()
    view.publish(State(), metrics=True)
    c = client(view, Auth(TokenFile(tokens)))
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer ap_a"}).status_code == 403
    text = c.get("/metrics", headers={"Authorization": "Bearer ap_admin"}).text
    assert "alertplane_syncs_total" in text and "the worker's own" not in text
    # Without auth (the single process), /metrics is the app's own.
    assert client(view).get("/metrics").json() == "the worker's own"


def test_metrics_too_large_keep_the_last_text_that_fit() -> None:
    view = SyncView()
    view._publish_metrics(b"a 1\n")
    view._publish_metrics(b"x" * (METRICS_MAX + 1))
    assert view.metrics_text() == b"a 1\n"


def test_failure_text_is_bounded_and_replaced_whole() -> None:
    view = SyncView()
    view.publish(State(threading.Event(), 5.0, "x" * 1000), metrics=False)
    assert view.seen().failure == "x" * 255
    view.publish(State(threading.Event(), 5.0, "short"), metrics=False)
    assert view.seen().failure == "short"


@pytest.mark.parametrize(("workers", "kubernetes", "fragment"), [
    (0, False, "between 1 and 64"),
    (65, False, "between 1 and 64"),
    (2, True, "standalone mode"),
])  # fmt: skip
def test_workers_flag_checked_before_anything_starts(
    workers: int, kubernetes: bool, fragment: str
) -> None:
    with pytest.raises(UsageError) as refused:
        _check_workers(workers, kubernetes)
    assert fragment in str(refused.value) and refused.value.hint


def test_sqlite_lock_is_a_file_beside_the_database(tmp_path: Path) -> None:
    first = ReconcilerLock(make_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    second = ReconcilerLock(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), retry_s=0.01)
    stopped = threading.Event()
    try:
        assert first.acquire(threading.Event())
        assert first.where == f"{tmp_path / 'a.db'}-reconciler.lock"
        threading.Timer(0.2, stopped.set).start()
        assert not second.acquire(stopped)
        first.release()
        assert not Path(first.where).exists()  # no litter beside the database
        assert second.acquire(threading.Event())
        assert Path(second.where).exists()
    finally:
        first.release()
        second.release()
    memory = ReconcilerLock(make_engine("sqlite://"))
    assert memory.acquire(threading.Event()) and memory.acquire(threading.Event())

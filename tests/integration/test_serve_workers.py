"""Several `serve` processes, and API worker processes, over one database: exactly one
process reconciles (the holder of the database's reconciler lock); a write through any
of them reaches that one's output; when it is killed, a standby takes over; an API worker
that dies is started again, and workers do not outlive their `serve` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from alertplane.store.db import make_engine
from alertplane.store.election import ReconcilerLock
from tests.support.api_env import alert_spec
from tests.support.api_serve import ApiServer, call
from tests.support.processes import Postgres
from tests.support.waiting import eventually

START_S = 120.0  # spawning worker processes on a loaded 2-core machine


def admin_token(path: Path) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "token", "create", "ops", "--role", "admin",
         "--append", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return created.stdout.splitlines()[0]


def server(tmp: Path, name: str, db_url: str, workers: int) -> ApiServer:
    platform = tmp / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp / 'secrets'}\n")
    out = str(tmp / name / "out")
    args = ["--db", db_url, "--out", out, "--platform-config", str(platform),
            "--tokens", str(tmp / "tokens.csv"), "--workers", str(workers)]  # fmt: skip
    return ApiServer(tmp / name, args, {})


def role(s: ApiServer) -> str | None:
    status, body = call(f"{s.url}/readyz")
    return body.get("reconciler") if status == 200 else None


def serving(s: ApiServer) -> int:
    """API worker processes serving, as /readyz counts them."""
    return int(call(f"{s.url}/readyz")[1].get("apiWorkers", 0))


def children(pid: int) -> set[int]:
    """The API workers of a serve process (its children, less multiprocessing's tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmd:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def write(s: ApiServer, token: str, name: str) -> dict[str, Any]:
    """Create an alert through `s` and return it once the reconciler synced it (polled:
    `?wait=true` gives up after 10 s, which a loaded machine may need)."""
    url = f"{s.url}/customers/acme/alerts?wait=true"  # waits in the worker, polling the db
    status, body = call(url, "POST", alert_spec(name), token)
    assert status == 201, body
    item = f"{s.url}/customers/acme/alerts/{name}"

    def synced() -> dict[str, Any] | None:
        found = call(item, token=token)[1]
        return found if (found.get("status") or {}).get("phase") == "Synced" else None

    return dict(eventually(synced, START_S))


def test_one_reconciler_per_database_and_failover(db_url: str, tmp_path: Path) -> None:
    token = admin_token(tmp_path / "tokens.csv")
    with server(tmp_path, "a", db_url, 2) as a:
        eventually(lambda: role(a) == "this process" and serving(a) == 2, START_S)
        with server(tmp_path, "b", db_url, 1) as b:
            eventually(lambda: role(b) == "standby", START_S)
            assert serving(b) == 0  # one process: no API workers
            # A write through the standby's API reaches the reconciling process's output.
            body = write(b, token, "ViaStandby")
            assert body["status"]["phase"] == "Synced", body
            assert "ViaStandby" in (tmp_path / "a" / "out" / "rules" / "acme.yml").read_text()
            assert not (tmp_path / "b" / "out" / "rules" / "acme.yml").exists()
            workers = children(a.proc.pid)
            assert len(workers) == 2, workers
            # The reconciling process dies without a word: the standby takes over, and
            # its first pass writes everything (the level-triggered reconciler).
            os.kill(a.proc.pid, signal.SIGKILL)
            a.proc.wait(30)
            eventually(lambda: role(b) == "this process", START_S)
            body = write(b, token, "AfterFailover")
            assert body["status"]["phase"] == "Synced", body
            text = (tmp_path / "b" / "out" / "rules" / "acme.yml").read_text()
            assert "ViaStandby" in text and "AfterFailover" in text
            # The dead process's workers stopped by themselves (no API without its
            # supervisor, holding the port).
            eventually(lambda: not any(alive(p) for p in workers), START_S)


def test_a_dead_worker_is_started_again(postgres: Postgres, tmp_path: Path) -> None:
    db_url = postgres.create_database(f"w{uuid.uuid4().hex}")
    token = admin_token(tmp_path / "tokens.csv")
    with server(tmp_path, "a", db_url, 2) as a:
        eventually(lambda: role(a) == "this process", START_S)
        before = eventually(lambda: (w := children(a.proc.pid)) and len(w) == 2 and w, START_S)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        after = eventually(
            lambda: (w := children(a.proc.pid)) and len(w) == 2 and victim not in w and w,
            START_S,
        )
        assert before - {victim} <= after
        eventually(lambda: serving(a) == 2, START_S)  # the dead one's slot was cleared
        eventually(lambda: role(a) == "this process", START_S)
        assert write(a, token, "AfterRestart")["status"]["phase"] == "Synced"


def test_reconciler_lock_is_exclusive_and_released(db_url: str) -> None:
    """Two holders never at once; a released lock goes to the next one at once."""
    import threading

    first, second = (ReconcilerLock(make_engine(db_url), retry_s=0.05) for _ in range(2))
    stop = threading.Event()
    try:
        assert first.acquire(stop)
        waited: list[bool] = []
        timer = threading.Timer(1.0, stop.set)
        timer.start()
        waited.append(second.acquire(stop))  # stands by until told to stop
        timer.join()
        assert waited == [False]
        assert first.held()
        first.release()
        assert second.acquire(threading.Event())
        assert second.held()
    finally:
        first.release()
        second.release()

"""`serve --workers N` against an unlucky platform and a bad edit.

A bad edit of the tokens file keeps the last good tokens (service/tokens.py: "a bad edit
cannot lock everybody out"). With API worker processes that held only while no worker
restarted: a worker started after the edit (the previous one crashed, was OOM-killed)
parsed the file, died at start-up, and was started again every second, forever; the
slot never served again. Real `serve` processes on SQLite."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.integration.test_serve_workers import (
    START_S,
    admin_token,
    children,
    role,
    server,
    serving,
)
from tests.support.api_serve import call
from tests.support.waiting import eventually


def test_a_worker_restarted_after_a_bad_tokens_edit_serves_the_last_good_tokens(
    tmp_path: Path,
) -> None:
    tokens = tmp_path / "tokens.csv"
    token = admin_token(tokens)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with server(tmp_path, "a", db_url, 2) as a:
        eventually(lambda: role(a) == "this process", START_S)
        eventually(lambda: serving(a) == 2, START_S)
        before = eventually(lambda: (w := children(a.proc.pid)) and len(w) == 2 and w, START_S)
        good = tokens.read_text()
        tokens.write_text(good + "broken line without the fields\n")  # a bad edit
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        eventually(
            lambda: (w := children(a.proc.pid)) and len(w) == 2 and victim not in w,
            START_S,
        )
        eventually(lambda: serving(a) == 2, START_S)  # the new worker serves
        for _ in range(8):  # connections go to either worker: both accept the token
            status, body = call(f"{a.url}/customers", token=token)
            assert status == 200, body

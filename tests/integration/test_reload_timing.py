"""Reload timing follows what the real Prometheus (2.42) takes (issue 12, defect B).

Prometheus answers `POST /-/reload` when the reload is done and cannot cancel one: a client
that gave up after a fixed timeout and asked again made it run another full reload behind
the first (a pile-up). Here a reload that outlasts the caller's patience is never asked
again: the caller hears "reloading for N s (took M s last time)" (Pending, not failed), the
next call waits on the same request, and Prometheus reloads exactly once.

Slowness is made certain, not hoped for: Prometheus is SIGSTOPped while asked (the kernel
still accepts the connection), so no timing decides pass or fail. Reloads are counted in
Prometheus' own log ("Completed loading of configuration file"), after one last plain
reload that queues behind any still pending: when it returns, every earlier one is done.
"""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.sinks import reload as reload_mod
from alertplane.sinks import reload_flight
from alertplane.sinks.base import PENDING, PROMETHEUS
from alertplane.sinks.reload import Reloader, reload
from alertplane.stack.processes import Prometheus
from tests.support.waiting import eventually

RULES = 2_000  # enough that a reload is real work (about a second idle), not a no-op
EXPR = '    expr: rate(x_total{{customer_id="c{f}",i="{i}"}}[5m]) > {i}\n'
DONE = "Completed loading of configuration file"


class LoggingPrometheus(Prometheus):
    """Prometheus logging at info: one line per completed reload."""

    def command(self) -> list[str]:
        return [a.replace("--log.level=warn", "--log.level=info") for a in super().command()]

    def reloads(self) -> int:
        return self.log.read_text(errors="replace").count(DONE)

    def settle(self) -> int:
        """Reloads completed, once every reload already asked for is done: a plain
        reload queues behind them (Prometheus' main loop takes one at a time)."""
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=900):
            pass
        return self.reloads() - 1  # not this one


def _rules(directory: Path) -> None:
    directory.mkdir()
    for f in range(20):
        rules = "".join(
            f"  - alert: A{f}x{i}\n" + EXPR.format(f=f, i=i) for i in range(RULES // 20)
        )
        (directory / f"c{f}.yml").write_text(f"groups:\n- name: g{f}\n  rules:\n{rules}")


@pytest.fixture
def prom(tmp_path: Path) -> Iterator[LoggingPrometheus]:
    _rules(tmp_path / "rules")
    with LoggingPrometheus(tmp_path / "rules", workdir=tmp_path / "prom") as p:
        eventually(lambda: p.reloads() >= 1, 120)  # the start-up load
        yield p


class Stopped:
    """Prometheus SIGSTOPped: it accepts connections (the kernel does) and answers none."""

    def __init__(self, prom: Prometheus) -> None:
        assert prom.proc is not None
        self.pid = prom.proc.pid

    def __enter__(self) -> Stopped:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


def test_a_reload_longer_than_the_wait_is_not_asked_again(prom: LoggingPrometheus) -> None:
    before = prom.reloads()
    with Stopped(prom):
        first = reload(prom.url, timeout_s=0.2)
        again = reload(prom.url, timeout_s=0.2)  # the next pass, same reload in flight
    assert (first.ok, first.in_flight) == (False, True)
    assert (again.ok, again.in_flight) == (False, True)
    assert "reloading for" in first.message and "first reload here" in first.message
    done = eventually(lambda: (o := reload(prom.url, timeout_s=5)).ok and o, 300)
    assert done.attempts == 1
    assert prom.settle() - before == 1  # one reload in Prometheus, however often asked
    took = reload_flight.took_last(prom.url + "/-/reload")
    assert took is not None and took > 0
    with Stopped(prom):  # the next slow one says what the last one took
        slow = reload(prom.url, timeout_s=0.2)
    assert f"took {took:.1f} s last time" in slow.message, slow.message
    eventually(lambda: reload(prom.url, timeout_s=5).ok, 300)


def test_waiters_share_one_request(prom: LoggingPrometheus) -> None:
    url = prom.url + "/-/reload"
    posts = reload_flight.POSTS.get(url, 0)
    before = prom.reloads()
    with Stopped(prom):
        outcomes = []
        threads = [
            threading.Thread(target=lambda: outcomes.append(reload(prom.url, timeout_s=0.5)))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(outcomes) == 8 and all(o.in_flight for o in outcomes)
    eventually(lambda: reload(prom.url, timeout_s=5).ok, 300)
    assert reload_flight.POSTS[url] - posts == 1
    assert prom.settle() - before == 1


def test_status_says_reloading_then_reloaded(
    prom: LoggingPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reload_mod, "WAIT_S", 0.2)
    reloader = Reloader(lambda: {PROMETHEUS: prom.url})
    with Stopped(prom):
        outcomes = reloader.make_live(["rules/c0.yml"])
    assert outcomes[PROMETHEUS].in_flight
    live = reloader.liveness("rules/c0.yml")
    assert (live.synced, live.reason) == (False, PENDING)
    assert live.message.startswith(f"{prom.url}/-/reload: reloading for "), live.message

    def reloaded() -> bool:
        reloader.make_live([])  # the reconciler's re-check: nothing new written
        return reloader.liveness("rules/c0.yml").reason == "Reloaded"

    eventually(reloaded, 300)

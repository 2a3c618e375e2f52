"""Synced follows the running system: output a sink calls Pending is asked about again
(without any change), and a part the system refused makes its objects Failed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alertplane.sinks.base import Liveness, Sink
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj, receiver
from tests.support.waiting import eventually


class Slow:
    """A files sink whose running system takes `pending` questions to load acme's part
    (then answers `then`); other customers are live at once."""

    def __init__(self, inner: Sink, pending: int, then: Liveness) -> None:
        self.inner, self.left, self.then = inner, pending, then
        self.asked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def liveness(self, output: str, customer_id: str) -> Liveness:
        if customer_id != "acme":
            return self.inner.liveness(output, customer_id)
        self.asked += 1
        if self.left > 0:
            self.left -= 1
            return Liveness(False, "Pending", "waiting for the system to load it")
        return self.then


def _status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    return found.manifest()["status"]


def _run(tmp_path: Path, then: Liveness) -> tuple[Store, Slow, Callable[[], None]]:
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    store.apply([obj(alert("acme")), obj(receiver("acme")), obj(alert("globex"))], "a", "cli")
    settings = SyncSettings(out_dir=tmp_path / "out", coalesce_s=0.05, poll_s=0.02)
    slow = Slow(settings.files_sink(), pending=4, then=then)
    settings.sink = slow  # type: ignore[assignment]  # a Sink by delegation
    rec = Reconciler(store, settings)
    stop = threading.Event()
    thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(10)

    return store, slow, halt


def test_pending_output_is_asked_again_until_live(tmp_path: Path) -> None:
    store, slow, halt = _run(tmp_path, Liveness(True, "Reloaded", ""))
    try:
        eventually(lambda: _status(store, "acme-higherrorrate")["phase"] == "Synced", 60)
        assert _status(store, "acme-oncall")["phase"] == "Synced"
        # Every object of acme was asked on each pass: the first pass and >= 1 recheck.
        assert slow.asked >= 4 + 2
        assert _status(store, "globex-higherrorrate")["phase"] == "Synced"
    finally:
        halt()


def test_pending_is_shown_while_the_system_has_not_loaded_it(tmp_path: Path) -> None:
    store, slow, halt = _run(tmp_path, Liveness(True, "Reloaded", ""))
    slow.left = 10**9  # never loads
    try:
        eventually(lambda: slow.asked >= 8, 60)  # asked again and again, with no change
        st = _status(store, "acme-higherrorrate")
        assert st["phase"] == "Pending"
        synced = next(c for c in st["conditions"] if c["type"] == "Synced")
        assert (synced["status"], synced["reason"]) == ("False", "Pending")
        assert synced["message"] == "waiting for the system to load it"
        assert _status(store, "globex-higherrorrate")["phase"] == "Synced"
    finally:
        halt()


@pytest.mark.parametrize("reason", ["Rejected"])
def test_a_refused_part_fails_only_its_customer(tmp_path: Path, reason: str) -> None:
    refused = Liveness(False, reason, "AlertmanagerConfig alertplane-acme was rejected: bad")
    store, _, halt = _run(tmp_path, refused)
    try:
        eventually(lambda: _status(store, "acme-oncall")["phase"] == "Failed", 60)
        synced = [c for c in _status(store, "acme-oncall")["conditions"] if c["type"] == "Synced"]
        assert synced[0]["message"] == refused.message
        assert _status(store, "globex-higherrorrate")["phase"] == "Synced"
    finally:
        halt()

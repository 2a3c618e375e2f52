"""The runtime against real Prometheus and Alertmanager: what users see is what is live."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alertplane.errors import ObjectRef
from alertplane.render.platform import PlatformConfig
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj, receiver
from tests.support.processes import Alertmanager, Prometheus
from tests.support.waiting import eventually

PLATFORM = PlatformConfig.model_validate(
    {"alertmanager": {"route": {"group_wait": "1s", "group_interval": "1s"}}}
)


@dataclass
class Stack:
    store: Store
    reconciler: Reconciler
    prometheus: Prometheus
    alertmanager: Alertmanager
    out: Path

    def status(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.store.get() if s.name == name]
        return found.manifest()["status"]

    def live_exprs(self, customer: str = "acme") -> dict[str, str]:
        """Alert name → expression of one customer's rules as Prometheus has them loaded."""
        return {
            r["name"]: r["query"]
            for r in self.prometheus.rules()
            if r["group"].startswith(f"{customer}-")
        }


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    """The runtime on each database kind (SQLite file, real PostgreSQL)."""
    out = tmp_path / "out"
    store = Store(open_db(db_url))
    settings = SyncSettings(out_dir=out, platform=PLATFORM, coalesce_s=0.1, poll_s=0.02)
    Reconciler(store, settings).sync_all()  # Alertmanager needs a config file to start
    with Alertmanager(out / "alertmanager.yml") as am, Prometheus(out / "rules", am.url) as prom:
        settings.prometheus_url, settings.alertmanager_url = prom.url, am.url
        rec = Reconciler(store, settings)
        stop = threading.Event()
        worker = threading.Thread(target=rec.run, args=(stop,), daemon=True)
        worker.start()
        assert rec.ready.wait(30)
        try:
            yield Stack(store, rec, prom, am, out)
        finally:
            stop.set()
            worker.join(10)


EXPR = 'rate(errors_total{customer_id="acme"}[5m]) > 1'


def test_apply_edit_disable_delete_are_live(stack: Stack) -> None:
    stack.store.apply([obj(alert("acme", expr=EXPR)), obj(receiver("acme"))], "t", "cli")
    eventually(lambda: stack.live_exprs().get("HighErrorRate") == EXPR)
    eventually(lambda: stack.status("acme-higherrorrate")["phase"] == "Synced")
    st = stack.status("acme-higherrorrate")
    assert st["conditions"][1]["reason"] == "Reloaded"
    am_config = stack.alertmanager.status()["config"]["original"]
    assert "acme/oncall" in am_config
    eventually(lambda: stack.status("acme-oncall")["phase"] == "Synced")

    edited = 'rate(errors_total{customer_id="acme"}[5m]) > 2'
    stack.store.apply([obj(alert("acme", expr=edited))], "t", "cli")
    eventually(lambda: stack.live_exprs().get("HighErrorRate") == edited)
    eventually(lambda: stack.status("acme-higherrorrate")["observedGeneration"] == 2)

    stack.store.apply([obj(alert("acme", expr=edited, enabled=False))], "t", "cli")
    eventually(lambda: "HighErrorRate" not in stack.live_exprs())
    eventually(lambda: stack.status("acme-higherrorrate")["phase"] == "Disabled")

    stack.store.apply([obj(alert("acme", expr=edited))], "t", "cli")
    eventually(lambda: "HighErrorRate" in stack.live_exprs())
    stack.store.delete([ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")], "t", "cli")
    eventually(lambda: "HighErrorRate" not in stack.live_exprs())
    assert not (stack.out / "rules" / "acme.yml").exists()


def test_invalid_edit_keeps_last_good_live(stack: Stack) -> None:
    stack.store.apply([obj(alert("acme", expr=EXPR)), obj(alert("globex"))], "t", "cli")
    eventually(lambda: stack.live_exprs().get("HighErrorRate") == EXPR)
    stack.store.apply([obj(alert("acme", expr="rate(errors_total[5m]) > 1"))], "t", "cli")
    stack.store.apply([obj(alert("globex", severity="warning"))], "t", "cli")
    eventually(lambda: stack.status("acme-higherrorrate")["phase"] == "Invalid")
    eventually(lambda: stack.status("globex-higherrorrate")["observedGeneration"] == 2)
    assert stack.status("globex-higherrorrate")["phase"] == "Synced"
    rules = {(r["group"], r["name"]): r for r in stack.prometheus.rules()}
    assert rules[("acme-application", "HighErrorRate")]["query"] == EXPR  # generation 1
    assert rules[("globex-application", "HighErrorRate")]["labels"]["severity"] == "warning"
    message = stack.status("acme-higherrorrate")["conditions"][0]["message"]
    assert message.startswith('spec.expr: selector errors_total{} has no customer_id="acme"')


def test_prometheus_down_then_heals(stack: Stack) -> None:
    stack.store.apply([obj(alert("acme", expr=EXPR))], "t", "cli")
    eventually(lambda: stack.status("acme-higherrorrate")["phase"] == "Synced")
    stack.prometheus.stop()
    edited = 'rate(errors_total{customer_id="acme"}[5m]) > 3'
    stack.store.apply([obj(alert("acme", expr=edited))], "t", "cli")
    st = eventually(lambda: (s := stack.status("acme-higherrorrate"))["phase"] == "Failed" and s)
    synced = st["conditions"][1]
    assert (synced["status"], synced["reason"]) == ("False", "ReloadFailed")
    assert "/-/reload" in synced["message"]
    stack.prometheus.start()  # same port and data: it loads the written files itself
    eventually(lambda: stack.status("acme-higherrorrate")["phase"] == "Synced", timeout=60)
    assert stack.live_exprs()["HighErrorRate"] == edited


def test_restart_rederives_from_the_store(stack: Stack, tmp_path: Path) -> None:
    stack.store.apply([obj(alert("acme", expr=EXPR)), obj(receiver("acme"))], "t", "cli")
    eventually(lambda: stack.live_exprs().get("HighErrorRate") == EXPR)
    (stack.out / "rules" / "acme.yml").unlink()  # lost output, e.g. a fresh volume
    fresh = Reconciler(stack.store, stack.reconciler.settings)
    report = fresh.sync_all()
    assert "rules/acme.yml" in report.written
    assert report.reloads["prometheus"].ok
    assert stack.live_exprs()["HighErrorRate"] == EXPR

"""Synced means live for the sinks that reload, against the real Prometheus (2.42) and
Alertmanager (0.25): while the running processes have the previous files, the objects are
Pending (reloaded again on each re-check, nothing rewritten); once the files arrive they are
Synced.

The kubelet's delay is played by the test: Prometheus and Alertmanager read a "mounted"
directory that only `Kubelet.refresh` updates, from the ConfigMaps the ConfigMap sink wrote
(into an in-memory Kubernetes API: the real API server is the e2e tier's) or from the files
sink's output directory (a Prometheus reading another directory than the one written to).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alertplane.atomic import commit, stage
from alertplane.metrics import REGISTRY
from alertplane.sinks.base import ALERTMANAGER, PROMETHEUS, Sink
from alertplane.sinks.configmap import ConfigMapSink
from alertplane.sinks.reload import Reloader
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.factories import alert, obj, receiver
from tests.support.processes import Alertmanager, Prometheus
from tests.support.waiting import eventually
from tests.unit.sinks.test_conformance import FakeKube

KUBELET = "the kubelet has not refreshed the ConfigMap yet"
FILES = "after a reload: do its rule_files include the output directory's rules?"
FILES_AM = "after a reload: is its --config.file the written alertmanager.yml?"
FIRST_AM = "route: {receiver: boot}\nreceivers: [{name: boot}]\n"  # before anything is written


class Kubelet:
    """Copies what the sink wrote into the directory the processes read, when told to."""

    def __init__(self, mount: Path, source: Callable[[], dict[str, str]]) -> None:
        self.mount, self.source = mount, source
        (mount / "rules").mkdir(parents=True)
        (mount / "alertmanager.yml").write_text(FIRST_AM, encoding="utf-8")

    def refresh(self) -> None:
        wanted = self.source()
        for path in (self.mount / "rules").glob("*.yml"):
            if f"rules/{path.name}" not in wanted:
                path.unlink()
        for rel, text in wanted.items():
            commit(stage(self.mount / rel, text), self.mount / rel)


def _configmaps(kube: FakeKube) -> Callable[[], dict[str, str]]:
    def files() -> dict[str, str]:
        out = {}
        for body in kube.objects.values():
            for key, text in body.get("data", {}).items():
                out["alertmanager.yml" if key == "alertmanager.yml" else f"rules/{key}"] = text
        return out

    return files


def _directory(out: Path) -> Callable[[], dict[str, str]]:
    def files() -> dict[str, str]:
        found = [*out.glob("rules/*.yml"), out / "alertmanager.yml"]
        return {str(p.relative_to(out)): p.read_text("utf-8") for p in found if p.is_file()}

    return files


@dataclass
class Env:
    store: Store
    kubelet: Kubelet
    hints: tuple[str, str]
    writes: Callable[[], object]  # changes whenever the sink writes


def _status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    return dict(found.manifest()["status"])


def _synced(store: Store, name: str) -> dict[str, Any]:
    st = _status(store, name)
    return next((c for c in st.get("conditions", []) if c["type"] == "Synced"), {})


def _reloads(target: str) -> float:
    return (
        REGISTRY.get_sample_value("alertplane_reloads_total", {"target": target, "outcome": "ok"})
        or 0.0
    )


@pytest.fixture(params=["configmap", "files"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    mount = tmp_path / "mount"
    kube = FakeKube()
    settings = SyncSettings(out_dir=tmp_path / "out", coalesce_s=0.05, poll_s=0.02)
    if request.param == "configmap":
        kubelet, hints = Kubelet(mount, _configmaps(kube)), (KUBELET, KUBELET)
    else:
        kubelet, hints = Kubelet(mount, _directory(tmp_path / "out")), (FILES, FILES_AM)
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    with (
        Alertmanager(mount / "alertmanager.yml") as am,
        Prometheus(mount / "rules", am.url) as prom,
    ):
        urls = {PROMETHEUS: prom.url, ALERTMANAGER: am.url}
        settings.prometheus_url, settings.alertmanager_url = prom.url, am.url
        sink: Sink = settings.files_sink()
        if request.param == "configmap":
            sink = ConfigMapSink(kube, "monitoring", Reloader(lambda: urls))
            sink.start()
        settings.sink = sink
        out = tmp_path / "out"
        writes: Callable[[], object] = (
            (lambda: kube.writes)
            if request.param == "configmap"
            else (
                lambda: sorted(
                    (p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in out.rglob("*.yml")
                )
            )
        )  # a rewritten file is a new inode (renamed into place)
        rec = Reconciler(store, settings)
        stop = threading.Event()
        thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield Env(store, kubelet, hints, writes)
        finally:
            stop.set()
            thread.join(30)
    shutil.rmtree(mount, ignore_errors=True)


def test_pending_while_the_processes_have_the_previous_files_synced_once_they_arrive(
    env: Env,
) -> None:
    store, (hint, am_hint) = env.store, env.hints
    store.apply([obj(alert("acme")), obj(receiver("acme")), obj(alert("globex"))], "a", "cli")
    not_yet = (
        f"written; Prometheus has not loaded the rules for acme yet ({hint}): "
        "no rule file acme.yml is loaded"
    )
    eventually(lambda: _synced(store, "acme-higherrorrate").get("message") == not_yet, 60)
    assert _status(store, "acme-higherrorrate")["phase"] == "Pending"
    routes = (
        f"written; Alertmanager has not loaded the routes for acme yet ({am_hint}): "
        'no route for customer_id="acme" is loaded'
    )
    eventually(lambda: _synced(store, "acme-oncall").get("message") == routes, 60)

    # Stale: asked again and reloaded again, with nothing rewritten.
    writes, reloads = env.writes(), _reloads(PROMETHEUS)
    eventually(lambda: _reloads(PROMETHEUS) >= reloads + 2, 60)
    assert env.writes() == writes
    assert _synced(store, "acme-higherrorrate")["reason"] == "Pending"

    env.kubelet.refresh()  # the kubelet catches up: live on the next re-check
    for name in ("acme-higherrorrate", "acme-oncall", "globex-higherrorrate"):
        eventually(lambda name=name: _status(store, name)["phase"] == "Synced", 60)
        assert _synced(store, name)["reason"] == "Reloaded"
    assert env.writes() == writes

    # A change: the processes keep the previous version until the kubelet refreshes again.
    expr = 'rate(errors_total{customer_id="acme", code=~"5.."}[5m]) > 2'
    store.apply([obj(alert("acme", expr=expr))], "a", "cli")
    previous = (
        f"written; Prometheus still has the previous rules for acme ({hint}): "
        "group acme-application: rule HighErrorRate: the query differs"
    )
    eventually(lambda: _synced(store, "acme-higherrorrate").get("message") == previous, 60)
    env.kubelet.refresh()
    eventually(lambda: _status(store, "acme-higherrorrate")["phase"] == "Synced", 60)
    assert _synced(store, "acme-higherrorrate")["reason"] == "Reloaded"

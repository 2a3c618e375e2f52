"""HA Alertmanager with the ConfigMap sink: one ConfigMap, mounted by every replica's pod,
each pod's kubelet refreshing its copy on its own schedule. Three real Alertmanager 0.25
replicas in a gossip cluster, each reading its own "mounted" file that only the test's
kubelet refreshes (the ConfigMaps are written into an in-memory Kubernetes API; the real
API server is the e2e tier's): while a replica's copy is old the objects are Pending naming
that replica alone, and that replica is reloaded again on each re-check; once every copy is
refreshed, Synced."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.atomic import commit, stage
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.factory import CONFIGMAP, SinkSettings, build_sink
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.am_cluster import AmCluster
from tests.support.factories import obj, receiver
from tests.support.waiting import eventually
from tests.unit.sinks.test_conformance import FakeKube

FIRST_AM = "route: {receiver: boot}\nreceivers: [{name: boot}]\n"  # before anything is written
KUBELET = "the kubelet has not refreshed the ConfigMap yet"


@dataclass
class Env:
    store: Store
    kube: FakeKube
    mounts: list[Path]
    cluster: AmCluster

    def refresh(self, replica: int) -> None:
        """Replica `replica`'s kubelet copies the ConfigMap into its pod's mount."""
        (text,) = [
            b["data"]["alertmanager.yml"]
            for b in self.kube.objects.values()
            if "alertmanager.yml" in b.get("data", {})
        ]
        commit(stage(self.mounts[replica], text), self.mounts[replica])

    def synced(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.store.get() if s.name == name]
        st = found.manifest()["status"]
        none = {"status": "", "message": ""}
        return next((c for c in st.get("conditions") or [] if c["type"] == "Synced"), none)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    mounts = [tmp_path / f"pod-{i}" / "alertmanager.yml" for i in range(3)]
    for mount in mounts:
        mount.parent.mkdir(parents=True)
        mount.write_text(FIRST_AM, encoding="utf-8")
    kube = FakeKube()
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    with AmCluster(mounts, tmp_path / "am") as cluster:
        platform = PlatformConfig.model_validate({"alertmanager": {"replicas": cluster.platform()}})
        sink = build_sink(SinkSettings(CONFIGMAP, platform=platform), kube)
        sink.start()
        settings = SyncSettings(
            out_dir=tmp_path / "out", platform=platform, coalesce_s=0.05, poll_s=0.02, sink=sink
        )
        rec = Reconciler(store, settings)
        stop = threading.Event()
        thread = threading.Thread(target=rec.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield Env(store, kube, mounts, cluster)
        finally:
            stop.set()
            thread.join(30)


def test_pending_names_the_replicas_whose_pod_has_the_old_configmap(env: Env) -> None:
    env.store.apply([obj(receiver("acme")), obj(receiver("globex"))], "a", "cli")
    not_yet = (
        f"alertmanager/am-0: written; Alertmanager has not loaded the routes for acme yet "
        f'({KUBELET}): no route for customer_id="acme" is loaded '
        "(also not live on alertmanager/am-1, alertmanager/am-2)"
    )
    eventually(lambda: env.synced("acme-oncall")["message"] == not_yet, 120)

    env.refresh(0)
    env.refresh(2)  # two kubelets caught up; am-1's has not
    only_am1 = (
        f"alertmanager/am-1: written; Alertmanager has not loaded the routes for acme yet "
        f'({KUBELET}): no route for customer_id="acme" is loaded'
    )
    eventually(lambda: env.synced("acme-oncall")["message"] == only_am1, 120)
    assert env.synced("globex-oncall")["message"].startswith("alertmanager/am-1: ")

    env.refresh(1)  # reloaded again on the next re-check: every replica has it
    eventually(lambda: env.synced("acme-oncall")["reason"] == "Reloaded", 120)
    assert env.synced("acme-oncall")["status"] == "True"
    assert env.synced("globex-oncall")["status"] == "True"


def test_the_operator_refuses_alertmanager_url_beside_replicas(tmp_path: Path) -> None:
    """`alertplane operator` as a process: stops before anything starts (exit 2), saying
    what to use instead."""
    platform = tmp_path / "platform.yaml"
    replicas = [{"name": "am-0", "url": "http://am-0:9093"}]
    platform.write_text(yaml.safe_dump({"alertmanager": {"replicas": replicas}}))
    cmd = [
        sys.executable,
        *("-m", "alertplane.cli", "operator", "--sink=configmap"),
        f"--platform-config={platform}",
        "--alertmanager-url=http://am:9093",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the platform config names Alertmanager replicas (am-0)" in done.stderr
    assert "Traceback" not in done.stderr

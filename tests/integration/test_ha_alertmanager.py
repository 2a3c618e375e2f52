"""HA Alertmanager on 3 real Alertmanager 0.25 replicas in a gossip cluster (loopback,
dynamic ports), fed by the reconciler's files sink with `alertmanager.replicas`:

- the replicas all down: the objects are Pending naming them, the pass does not fail;
  once they are up, every replica has the configuration and the objects are Synced;
- an alert every replica holds (Prometheus sends to all) is notified once, to its
  customer's capture receiver only: each replica went through its de-duplication stage
  (`alertmanager_nflog_queries_total`) and exactly one notified;
- one replica killed: a change still reaches the others, the objects are Pending naming
  the missing replica, alertplane stays healthy; restarted, it converges and the objects
  are Synced; a new alert is still notified once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alertplane.render.platform import PlatformConfig
from alertplane.service import customers
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.sinks.loaded_query import text_hash
from alertplane.sinks.reload import reload
from alertplane.stack.capture import Capture
from alertplane.stack.processes import Alertmanager, free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.am_cluster import PEER_TIMEOUT_S, AmCluster
from tests.support.factories import alert, obj, receiver
from tests.support.firing import firing, post_alerts
from tests.support.waiting import eventually

# A group is flushed (and de-duplicated) after groupWait, then every groupInterval: long, so
# the only notification-log queries while a test watches are those of its new group.
ROUTE = {
    "groupBy": ["alertname"],
    "groupWait": "1s",
    "groupInterval": "10m",
    "repeatInterval": "4h",
}


@dataclass
class Env:
    store: Store
    cluster: AmCluster
    capture: Capture
    reconciler: Reconciler
    out: Path
    hook: str  # the capture's base URL

    def status(self, name: str) -> dict[str, Any]:
        (found,) = [s for s in self.store.get() if s.name == name]
        return dict(found.manifest()["status"])

    def synced(self, name: str) -> dict[str, Any]:
        st = self.status(name)
        none = {"status": "", "message": ""}  # no status yet: the first pass is running
        return next((c for c in st.get("conditions") or [] if c["type"] == "Synced"), none)

    def hashes(self) -> dict[str, float]:
        """Each running replica's `alertmanager_config_hash`."""
        return {
            name: self.cluster.metric(am, "alertmanager_config_hash")
            for name, am in zip(self.cluster.names, self.cluster.replicas, strict=True)
            if am.proc is not None
        }

    def hashes_of(self, *names: str) -> list[float]:
        return [
            self.cluster.metric(self.cluster.replica(n), "alertmanager_config_hash") for n in names
        ]

    def written_hash(self) -> float:
        return text_hash((self.out / "alertmanager.yml").read_text(encoding="utf-8"))

    def received(self, customer: str) -> list[dict[str, Any]]:
        return [m for m in self.capture.messages() if m["path"].startswith(f"/{customer}/")]


def _receiver(customer: str, hook: str, **over: Any) -> dict[str, Any]:
    spec = {"webhook": [{"url": f"{hook}/{customer}/oncall"}], "route": ROUTE, **over}
    return receiver(customer, **spec)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    out = tmp_path / "out"
    capture = Capture(tmp_path / "capture", smtp_port=free_port(), http_port=free_port()).start()
    hook = f"http://127.0.0.1:{capture.http_port}"
    cluster = AmCluster(out / "alertmanager.yml", tmp_path / "am")
    platform = PlatformConfig.model_validate({"alertmanager": {"replicas": cluster.platform()}})
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    manifests = [_receiver("acme", hook), _receiver("globex", hook), alert("acme")]
    store.apply([obj(m) for m in manifests], "a", "cli")
    settings = SyncSettings(out_dir=out, platform=platform, coalesce_s=0.05, poll_s=0.02)
    reconciler = Reconciler(store, settings)
    stop = threading.Event()
    thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield Env(store, cluster, capture, reconciler, out, hook)
    finally:
        stop.set()
        thread.join(30)
        cluster.close()
        capture.stop()


def _notified_once(env: Env, customer: str, name: str) -> None:
    """Post one firing alert to every running replica (as Prometheus does) and prove it
    was notified exactly once, to `customer`'s receiver only."""
    running = env.cluster.running()
    before = [env.cluster.metric(am, "alertmanager_nflog_queries_total") for am in running]
    sent_before = sum(
        env.cluster.metric(am, "alertmanager_notifications_total", integration="webhook")
        for am in running
    )
    others = len(env.received("globex"))
    mine = len(env.received(customer))
    for am in running:
        post_alerts(am.url, firing([(customer, name)]))
    eventually(lambda: len(env.received(customer)) > mine, 120)
    # Every replica reached its de-duplication stage for this group: each has decided,
    # after waiting its position × peer timeout, whether to notify.
    eventually(
        lambda: all(
            env.cluster.metric(am, "alertmanager_nflog_queries_total") > seen
            for am, seen in zip(running, before, strict=True)
        ),
        120 + PEER_TIMEOUT_S * len(running),
    )
    time.sleep(1.0)  # a duplicate already decided has this long to arrive (can only pass less)
    sent = sum(
        env.cluster.metric(am, "alertmanager_notifications_total", integration="webhook")
        for am in running
    )
    got = env.received(customer)[mine:]
    assert [m["body"]["commonLabels"]["alertname"] for m in got] == [name]
    assert sent - sent_before == 1, f"{sent - sent_before} replicas notified"
    assert len(env.received("globex")) == others


def test_every_replica_loads_the_config_and_an_alert_is_notified_once(env: Env) -> None:
    # Replicas not started yet: every one is down, the objects say so, the pass does not fail.
    eventually(lambda: (env.out / "alertmanager.yml").is_file(), 60)
    eventually(lambda: "alertmanager/am-0: down" in env.synced("acme-oncall")["message"], 60)
    message = env.synced("acme-oncall")["message"]
    assert "also not live on alertmanager/am-1, alertmanager/am-2" in message
    assert env.status("acme-oncall")["phase"] == "Pending"
    assert env.reconciler.failing_since is None

    env.cluster.start()
    eventually(lambda: env.status("acme-oncall")["phase"] == "Synced", 120)
    assert env.status("globex-oncall")["phase"] == "Synced"
    assert set(env.hashes().values()) == {env.written_hash()}
    _notified_once(env, "acme", "HighErrorRate")


def test_a_killed_replica_is_named_until_it_returns_and_converges(env: Env) -> None:
    eventually(lambda: (env.out / "alertmanager.yml").is_file(), 60)
    env.cluster.start()
    eventually(lambda: env.status("acme-oncall")["phase"] == "Synced", 120)
    env.cluster.kill("am-1")
    old = env.written_hash()

    changed = _receiver("acme", env.hook, route={**ROUTE, "groupWait": "2s"})
    env.store.apply([obj(changed)], "a", "cli")

    def named() -> bool:
        synced = env.synced("acme-oncall")
        return synced["status"] == "False" and synced["message"].startswith(
            "alertmanager/am-1: down"
        )

    eventually(named, 120)
    assert env.status("acme-oncall")["phase"] == "Pending"
    new = env.written_hash()
    assert new != old
    # The change reached the replicas that are up; alertplane itself is healthy.
    eventually(lambda: env.hashes() == {"am-0": new, "am-2": new}, 60)
    assert env.reconciler.failing_since is None
    _notified_once(env, "acme", "WhileOneIsDown")

    env.cluster.restart("am-1")
    eventually(lambda: env.status("acme-oncall")["phase"] == "Synced", 120)
    assert env.status("globex-oncall")["phase"] == "Synced"
    assert env.hashes() == {"am-0": new, "am-1": new, "am-2": new}
    _notified_once(env, "acme", "AfterItReturned")


def test_config_hash_is_the_md5_s_first_6_bytes_little_endian(tmp_path: Path) -> None:
    """The claim `LoadedCheck` rests on, on the real binary: `alertmanager_config_hash` is
    the first 6 bytes of the loaded file's MD5 read little-endian (big-endian would not
    match: the test tells them apart); a configuration Alertmanager refuses answers the
    reload with 500 and the previous one stays loaded."""
    config = tmp_path / "alertmanager.yml"
    texts = [
        "route: {receiver: boot}\nreceivers: [{name: boot}]\n",
        "# café ☕ — non-ASCII bytes count\nroute: {receiver: b}\nreceivers: [{name: b}]\n",
        "route:\n  receiver: big\nreceivers:\n- name: big\n" + "# padding\n" * 20_000,
    ]
    config.write_text(texts[0], encoding="utf-8")
    with Alertmanager(config, tmp_path / "am") as am:
        for text in texts:
            config.write_text(text, encoding="utf-8")
            assert reload(am.url).ok
            loaded = _metric(am.url, "alertmanager_config_hash")
            digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
            assert loaded == text_hash(text) == int.from_bytes(digest[:6], "little")
            assert loaded != int.from_bytes(digest[:6], "big")
        config.write_text("route: {receiver: nobody}\n", encoding="utf-8")  # unknown receiver
        refused = reload(am.url, attempts=1)
        assert (refused.ok, refused.answered) == (False, True)
        assert "HTTP 500" in refused.message
        assert _metric(am.url, "alertmanager_config_hash") == text_hash(texts[-1])


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        lines = resp.read().decode().splitlines()
    (value,) = [line.split()[1] for line in lines if line.startswith(f"{name} ")]
    return float(value)


def test_a_hanging_replica_holds_nobody(env: Env) -> None:
    """SIGSTOP: the replica's kernel still accepts connections, nothing answers. Its reload
    stays in flight (sinks/reload_flight.py), never repeated: passes complete meanwhile
    (the status says "reloading for N s"), changes reach the other replicas, and SIGCONT
    converges."""
    eventually(lambda: (env.out / "alertmanager.yml").is_file(), 60)
    env.cluster.start()
    eventually(lambda: env.status("acme-oncall")["phase"] == "Synced", 120)
    stopped = env.cluster.replica("am-2")
    assert stopped.proc is not None
    os.killpg(stopped.proc.pid, signal.SIGSTOP)
    try:
        for wait in ("2s", "3s"):  # two changes in a row while it hangs
            before = env.written_hash()
            changed = _receiver("acme", env.hook, route={**ROUTE, "groupWait": wait})
            env.store.apply([obj(changed)], "a", "cli")
            eventually(lambda: env.written_hash() != before, 60)  # noqa: B023

            def in_flight() -> bool:
                message = env.synced("acme-oncall")["message"]
                return message.startswith("alertmanager/am-2: ") and "reloading for" in message

            eventually(in_flight, 120)
            new = env.written_hash()
            eventually(lambda: env.hashes_of("am-0", "am-1") == [new, new], 60)  # noqa: B023
    finally:
        os.killpg(stopped.proc.pid, signal.SIGCONT)
    eventually(lambda: env.status("acme-oncall")["phase"] == "Synced", 180)
    assert env.hashes_of("am-2") == [env.written_hash()]


def test_the_firing_view_reads_the_cluster_and_silences_are_gossiped(env: Env) -> None:
    """A silence created on one replica is gossiped: the firing view, asking every replica
    and taking the first in the platform config's order (am-0) for an alert they all
    hold, shows it silenced; with am-0 killed, the others still answer the same."""
    eventually(lambda: (env.out / "alertmanager.yml").is_file(), 60)
    env.cluster.start()
    platform = PlatformConfig.model_validate({"alertmanager": {"replicas": env.cluster.platform()}})
    ctx = Context(None, env.store, ApiSettings(), platform=platform)
    acme = Access(Principal("acme-ci", "acme"), "acme")
    for am in env.cluster.replicas:
        post_alerts(am.url, firing([("acme", "Quiet"), ("acme", "Loud")]))
    silence = {
        "matchers": [
            {"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True},
            {"name": "customer_id", "value": "acme", "isRegex": False, "isEqual": True},
        ],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": "made on am-2 only",
    }
    request = urllib.request.Request(
        f"{env.cluster.replica('am-2').url}/api/v2/silences",
        data=json.dumps(silence).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200

    def states() -> dict[str, str]:
        got = customers.firing(ctx, acme, silenced=True, inhibited=True)
        return {a["labels"]["alertname"]: a["status"]["state"] for a in got}

    want = {"Loud": "active", "Quiet": "suppressed"}
    eventually(lambda: states() == want, 60)  # am-0 has it by gossip
    assert customers.firing_counts(ctx, ["acme"], "acme", 5.0) == {"acme": 1}
    env.cluster.kill("am-0")
    assert states() == want

"""HA Alertmanager timings: 3 real Alertmanager 0.25 replicas in a gossip cluster on loopback,
fed by the reconciler's files sink with `alertmanager.replicas` (docs/ha-alertmanager.md).

    PYTHONPATH=$PWD/operator:$PWD python3 benchmarks/bench_ha_am.py [--peer-timeout 5s]

Measures, once each (wall clock, seconds): the cluster's start until every replica sees the
others; a change → Synced on every replica; an alert posted to every replica → its one
notification at the capture receiver (group_wait 1 s); the same with the replica that
notified killed (the next one waits its peer timeout); a change while it is down → the
objects Pending naming it; its restart → rejoined → Synced. Results go into
benchmarks/README.md by hand, with the machine, date and load.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import am_cluster
from tests.support.factories import obj, receiver
from tests.support.firing import firing, post_alerts
from tests.support.waiting import eventually

from alertplane.render.platform import PlatformConfig
from alertplane.sinks.loaded_query import text_hash
from alertplane.stack.capture import Capture
from alertplane.stack.processes import free_port
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings

ROUTE = {"groupBy": ["alertname"], "groupWait": "1s", "groupInterval": "10m"}


def timed(what: str, action: Callable[[], Any], results: dict[str, float]) -> None:
    start = time.monotonic()
    action()
    results[what] = time.monotonic() - start
    print(f"{what:<48} {results[what]:6.1f} s", flush=True)


def run(tmp: Path) -> dict[str, float]:
    out, results = tmp / "out", {}
    capture = Capture(tmp / "capture", free_port(), free_port()).start()
    hook = f"http://127.0.0.1:{capture.http_port}/acme/oncall"
    cluster = am_cluster.AmCluster(out / "alertmanager.yml", tmp / "am")
    platform = PlatformConfig.model_validate({"alertmanager": {"replicas": cluster.platform()}})
    store = Store(open_db(f"sqlite:///{tmp / 'a.db'}"), secrets_dir=str(tmp / "s"))

    def apply(wait: str) -> None:
        spec = {"webhook": [{"url": hook}], "route": {**ROUTE, "groupWait": wait}}
        store.apply([obj(receiver("acme", **spec))], "bench", "cli")

    def phase() -> str:
        (found,) = [s for s in store.get() if s.name == "acme-oncall"]
        return str(found.manifest()["status"].get("phase"))

    def notify(name: str) -> None:
        seen = len(capture.messages())
        for am in cluster.running():
            post_alerts(am.url, firing([("acme", name)]))
        eventually(lambda: len(capture.messages()) > seen, 120)

    apply("1s")
    rec = Reconciler(store, SyncSettings(out_dir=out, platform=platform, coalesce_s=0.05))
    stop = threading.Event()
    threading.Thread(target=rec.run, args=(stop,), daemon=True).start()
    try:
        eventually(lambda: (out / "alertmanager.yml").is_file(), 60)
        timed("cluster start, every replica joined", cluster.start, results)
        eventually(lambda: phase() == "Synced", 120)
        timed("change -> loaded by every replica", lambda: _change(apply, out, cluster), results)
        timed("alert -> notified once (all up)", lambda: notify("A"), results)
        sent = "alertmanager_notifications_total"
        first = next(
            n
            for n, am in zip(cluster.names, cluster.replicas, strict=True)
            if cluster.metric(am, sent, integration="webhook") > 0
        )
        cluster.kill(first)
        timed(f"alert -> notified ({first}, which notified, killed)", lambda: notify("B"), results)
        apply("3s")
        timed(f"change -> Pending naming {first}", lambda: eventually(_pending(phase), 60), results)
        timed(f"{first} restarted, rejoined", lambda: cluster.restart(first), results)
        timed("rejoined -> Synced", lambda: eventually(lambda: phase() == "Synced", 120), results)
    finally:
        stop.set()
        cluster.close()
        capture.stop()
    return results


def _change(apply: Callable[[str], None], out: Path, cluster: am_cluster.AmCluster) -> None:
    """A change, until every replica's alertmanager_config_hash is the new file's."""
    before = (out / "alertmanager.yml").read_text(encoding="utf-8")
    apply("2s")

    def loaded() -> bool:
        now = (out / "alertmanager.yml").read_text(encoding="utf-8")
        hashes = {cluster.metric(am, "alertmanager_config_hash") for am in cluster.replicas}
        return now != before and hashes == {text_hash(now)}

    eventually(loaded, 120)


def _pending(phase: Callable[[], str]) -> Callable[[], bool]:
    return lambda: phase() == "Pending"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer-timeout", default=am_cluster.PEER_TIMEOUT)
    args = ap.parse_args()
    am_cluster.PEER_TIMEOUT = args.peer_timeout
    with tempfile.TemporaryDirectory(prefix="alertplane-bench-ha-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    main()

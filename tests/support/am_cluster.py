"""A real Alertmanager 0.25 gossip cluster on loopback, for the HA tests.

Every replica reads the same configuration file (as replicas mounting one ConfigMap do),
listens on dynamic HTTP and cluster ports and names the others as `--cluster.peer`. A
replica can be killed (SIGKILL: no goodbye to its peers) and restarted on the same ports and
data directory, as a pod restarted by its StatefulSet would be.
"""

from __future__ import annotations

import contextlib
import os
import signal
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alertplane.stack.processes import Alertmanager, Gossip, free_cluster_port, http_json
from tests.support.waiting import eventually

# Generous for a loaded 2-core machine: a later replica waits its position × this before
# notifying, and must see the earlier one's notification log entry (gossiped every 200 ms).
PEER_TIMEOUT = "5s"
PEER_TIMEOUT_S = 5.0


class AmCluster:
    def __init__(self, config: Path | list[Path], workdir: Path, size: int = 3) -> None:
        """`config`: the file every replica reads, or one per replica (each pod's own
        mount of one ConfigMap, which its kubelet refreshes on its own schedule)."""
        files = config if isinstance(config, list) else [config] * size
        ports = [free_cluster_port() for _ in range(size)]
        self.names = [f"am-{i}" for i in range(size)]
        self.replicas: list[Alertmanager] = []
        for i, name in enumerate(self.names):
            peers = tuple(f"127.0.0.1:{p}" for j, p in enumerate(ports) if j != i)
            gossip = Gossip(ports[i], peers, peer_timeout=PEER_TIMEOUT)
            self.replicas.append(Alertmanager(files[i], workdir / name, gossip=gossip))

    def platform(self) -> list[dict[str, str]]:
        """`alertmanager.replicas` of the platform config for this cluster."""
        return [{"name": n, "url": am.url} for n, am in zip(self.names, self.replicas, strict=True)]

    def start(self, timeout: float = 120.0) -> Self:
        for am in self.replicas:
            am.start(timeout)
        self.wait_joined(timeout)
        return self

    def replica(self, name: str) -> Alertmanager:
        return self.replicas[self.names.index(name)]

    def kill(self, name: str) -> None:
        """SIGKILL: the replica leaves without telling its peers."""
        am = self.replica(name)
        assert am.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(am.proc.pid, signal.SIGKILL)
        am.proc.wait(30)
        am.proc = None

    def restart(self, name: str, timeout: float = 120.0) -> None:
        self.replica(name).start(timeout)
        self.wait_joined(timeout)

    def running(self) -> list[Alertmanager]:
        return [am for am in self.replicas if am.proc is not None]

    def wait_joined(self, timeout: float = 120.0) -> None:
        """Until every running replica sees every running one and says it is settled
        (`cluster.status` "ready"): before that each replica thinks it is first and
        notifies at once, which is no de-duplication."""
        size = len(self.running())

        def joined() -> bool:
            for am in self.running():
                cluster = am.status()["cluster"]
                alive = [p for p in cluster.get("peers") or [] if p.get("address")]
                if cluster.get("status") != "ready" or len(alive) != size:
                    return False
            return True

        eventually(joined, timeout)

    def metric(self, am: Alertmanager, name: str, **labels: str) -> float:
        return metric(am.url, name, **labels)

    def alerts(self, am: Alertmanager) -> list[Any]:
        return list(http_json(f"{am.url}/api/v2/alerts"))

    def close(self) -> None:
        for am in self.replicas:
            am.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def metric(url: str, name: str, **labels: str) -> float:
    """`name` from an Alertmanager's /metrics, summed over the samples with `labels`."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if line.startswith("#") or head.split("{", 1)[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total

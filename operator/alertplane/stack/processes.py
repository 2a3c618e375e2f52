"""Start Prometheus and Alertmanager on loopback ports, wait until ready, stop them cleanly:
the demo stack's processes (`make run`, stack/local.py), also used by the tests and the
benchmarks (tests/support/processes.py adds PostgreSQL, which the demo does not run).

Each class is a context manager; a process that does not come up within its timeout
raises `StartupError` with the tail of its log, so a broken environment fails loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ..errors import AlertplaneError
from ..render.yamlout import dump


class StartupError(AlertplaneError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, method: str = "GET", timeout: float = 10.0) -> Any:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (name if os.path.exists(name) else None)
        if found:
            return found
    raise StartupError(f"none of {', '.join(names)} found", "run `make deps`")


class Process:
    """A child process in its own process group with its log in a temp dir."""

    name = "process"

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp = None if workdir else tempfile.mkdtemp(prefix=f"alertplane-{self.name}-")
        self.dir = Path(workdir or self._tmp or ".")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def preexec(self) -> None:
        os.setsid()

    def start(self, timeout: float = 60.0) -> Self:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=self.preexec,
                cwd=self.dir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartupError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                if self.ready():
                    return self
            time.sleep(0.05)
        self.stop()
        raise StartupError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class Prometheus(Process):
    name = "prometheus"

    def __init__(
        self,
        rules_dir: Path,
        alertmanager_url: str | list[str] | None = None,
        scrape_targets: dict[str, str] | None = None,
        interval: str = "1s",
        workdir: Path | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [f"{rules_dir}/*.yml"],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in (scrape_targets or {}).items()
            ],
        }
        # Several: the replicas of an HA cluster. Prometheus sends every alert to each (they
        # de-duplicate notifications between them); never to just one of them.
        urls = [alertmanager_url] if isinstance(alertmanager_url, str) else alertmanager_url
        if urls:
            hosts = [url.split("://", 1)[-1].rstrip("/") for url in urls]
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": hosts}]}]}
        self.config = self.dir / "prometheus.yml"
        self.config.write_text(dump(config), encoding="utf-8")

    def command(self) -> list[str]:
        return [
            find_binary("prometheus"),
            f"--config.file={self.config}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            f"--storage.tsdb.path={self.dir / 'data'}",
            "--log.level=warn",
        ]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule Prometheus has loaded, flattened, with its group name."""
        data = http_json(f"{self.url}/api/v1/rules")["data"]["groups"]
        return [{**r, "group": g["name"]} for g in data for r in g["rules"]]

    def alerts(self) -> list[dict[str, Any]]:
        return list(http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"])

    def query(self, q: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        return list(http_json(url)["data"]["result"])


@dataclass(frozen=True)
class Gossip:
    """An Alertmanager's place in a gossip cluster (`--cluster.*`), on loopback.

    Alertmanager de-duplicates across replicas by waiting: the replica at position n of
    the sorted member list waits n × `peer_timeout` before notifying, and skips what the
    notification log (gossiped, every `gossip_interval`) says a peer already sent. So
    `peer_timeout` must exceed the gossip delay (loopback: milliseconds; 15 s by default,
    shortened for the demo and the tests); `settle_timeout` bounds the wait for the
    cluster to settle before the first notification."""

    port: int
    peers: tuple[str, ...] = ()  # host:port of the other replicas' cluster listeners
    peer_timeout: str = "5s"
    gossip_interval: str = "200ms"
    pushpull_interval: str = "5s"
    settle_timeout: str = "20s"

    def flags(self) -> list[str]:
        return [
            f"--cluster.listen-address=127.0.0.1:{self.port}",
            f"--cluster.advertise-address=127.0.0.1:{self.port}",
            *(f"--cluster.peer={peer}" for peer in self.peers),
            f"--cluster.peer-timeout={self.peer_timeout}",
            f"--cluster.gossip-interval={self.gossip_interval}",
            f"--cluster.pushpull-interval={self.pushpull_interval}",
            f"--cluster.settle-timeout={self.settle_timeout}",
            "--cluster.reconnect-interval=1s",
        ]


def free_cluster_port() -> int:
    """A port free for both TCP and UDP (memberlist listens on both with one number)."""
    for _ in range(100):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise StartupError("no port free for both TCP and UDP on 127.0.0.1")


class Alertmanager(Process):
    name = "alertmanager"

    def __init__(
        self,
        config_file: Path,
        workdir: Path | None = None,
        port: int | None = None,
        gossip: Gossip | None = None,
    ) -> None:
        super().__init__(workdir)
        self.config_file = config_file
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gossip = gossip

    def command(self) -> list[str]:
        # An empty cluster address disables gossip: one instance, no port clashes.
        cluster = self.gossip.flags() if self.gossip else ["--cluster.listen-address="]
        return [
            find_binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={self.config_file}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *cluster,
            "--log.level=warn",
        ]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def status(self) -> dict[str, Any]:
        return dict(http_json(f"{self.url}/api/v2/status"))

    def alerts(self) -> list[dict[str, Any]]:
        return list(http_json(f"{self.url}/api/v2/alerts"))

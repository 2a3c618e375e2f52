"""The whole local stack in one object: real Prometheus and Alertmanager, the demo exporter,
capture receivers and `alertplane serve` on SQLite, with the examples applied.

Used by `make run` (python -m alertplane.stack.local) and by the end-to-end tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from ..lifecycle import Shutdown
from ..manifests import load_paths
from ..render.yamlout import dump
from ..service.tokens import new_token, token_line
from .capture import Capture
from .exporter import serve as serve_exporter
from .ports import busy_ports
from .processes import (
    Alertmanager,
    Gossip,
    Process,
    Prometheus,
    StartupError,
    free_cluster_port,
    free_port,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "customers"
# Every child gets SIGTERM and stops within its own grace period (serve: 20 s).
STOP_GRACE_S = 40.0
# Secret keys the examples reference, and what the demo puts in them.
DEMO_SECRETS = {
    ("acme", "acme-slack", "webhook-url"): "http://127.0.0.1:{http}/acme/slack",
    ("acme", "acme-pagerduty", "routing-key"): "demo-routing-key-acme",
}


class Serve(Process):
    name = "alertplane-serve"

    def __init__(
        self, state: Path, port: int, prometheus: str, alertmanager: str | None, platform: Path
    ) -> None:
        super().__init__(state)
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.args = [
            "--db",
            f"sqlite:///{state / 'alertplane.db'}",
            "--platform-config",
            str(platform),
            "--out",
            str(state / "out"),
            "--prometheus-url",
            prometheus,
            # None: replicas, named in the platform config (the flag is then refused).
            *(["--alertmanager-url", alertmanager] if alertmanager else []),
            "--port",
            str(port),
            "--tokens",
            str(state / "tokens.csv"),
        ]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "alertplane.cli", "serve", *self.args]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)


class LocalStack:
    """`fast` (tests): `for:` becomes 0s and timings shrink. `free_ports` (default: as
    `fast`): the capture and exporter ports are free ones (the examples' 127.0.0.1:9097
    URLs are rewritten); otherwise the ports the examples and examples/platform.yaml name:
    HTTP capture 9097, SMTP 2525, exporter 9101."""

    def __init__(
        self,
        state: Path,
        manifests: Path = EXAMPLES,
        fast: bool = False,
        healthy: bool = False,
        free_ports: bool | None = None,
        replicas: int = 1,
    ) -> None:
        """`replicas` > 1: an Alertmanager gossip cluster (docs/ha-alertmanager.md)."""
        self.state, self.manifests, self.fast, self.healthy = state, manifests, fast, healthy
        self.replicas = replicas
        self.free_ports = fast if free_ports is None else free_ports
        self.out = state / "out"
        self.platform = state / "platform.yaml"
        if self.free_ports:
            self.smtp_port, self.http_port, self.exporter_port = (
                free_port(),
                free_port(),
                free_port(),
            )
        else:
            self.smtp_port, self.http_port, self.exporter_port = 2525, 9097, 9101
        self._stack = contextlib.ExitStack()
        self.capture: Capture
        self.prometheus: Prometheus
        self.alertmanager: Alertmanager  # the first replica when there are several
        self.alertmanagers: list[Alertmanager] = []
        self.serve: Serve
        self.tokens: dict[str, str] = {}

    def _write_platform(self) -> None:
        wait = "1s" if self.fast else "10s"
        config: dict[str, Any] = {
            "secretsDir": str(self.state / "secrets"),
            "alertmanager": {
                "global": {
                    "smtp_smarthost": f"127.0.0.1:{self.smtp_port}",
                    "smtp_from": "alerts@alertplane.demo",
                    "smtp_require_tls": False,
                    "pagerduty_url": f"http://127.0.0.1:{self.http_port}/pagerduty/",
                },
                "defaultReceiver": {
                    "webhook_configs": [{"url": f"http://127.0.0.1:{self.http_port}/platform"}]
                },
                "route": {
                    "group_by": ["customer_id", "alertname"],
                    "group_wait": wait,
                    "group_interval": wait,
                    "repeat_interval": "4h",
                },
            },
        }
        if self.replicas > 1:
            config["alertmanager"]["replicas"] = [
                {"name": f"am-{i}", "url": am.url} for i, am in enumerate(self.alertmanagers)
            ]
        self.platform.write_text(dump(config), encoding="utf-8")
        for (ns, name, key), value in DEMO_SECRETS.items():
            path = self.state / "secrets" / ns / name / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value.format(http=self.http_port), encoding="utf-8")
            path.chmod(0o600)

    def start(self) -> Self:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.out / "rules").mkdir(parents=True, exist_ok=True)
        am_file = self.out / "alertmanager.yml"
        if not am_file.exists():  # Alertmanager needs a config to start; serve replaces it
            am_file.write_text(
                dump(
                    {
                        "route": {"receiver": "platform-default"},
                        "receivers": [{"name": "platform-default"}],
                    }
                )
            )
        try:
            self.capture = Capture(self.state / "capture", self.smtp_port, self.http_port).start()
            self._stack.callback(self.capture.stop)
            exporter = serve_exporter(self.exporter_port, self.healthy)
            self._stack.callback(exporter.shutdown)
            self.alertmanagers = self._start_alertmanagers(am_file)
            self.alertmanager = self.alertmanagers[0]
            self._write_platform()
            self.prometheus = self._stack.enter_context(
                Prometheus(
                    self.out / "rules",
                    [am.url for am in self.alertmanagers],
                    {"demo": f"127.0.0.1:{self.exporter_port}"},
                    interval="1s" if self.fast else "5s",
                    workdir=self.state / "prometheus",
                )
            )
            self.tokens = demo_tokens(self.state / "tokens.csv")
            self.serve = self._stack.enter_context(
                Serve(
                    self.state,
                    free_port(),
                    self.prometheus.url,
                    self.alertmanager.url if self.replicas == 1 else None,
                    self.platform,
                )
            )
            self.apply(self.manifests)
            self._write_env()
        except BaseException:
            self.close()
            raise
        return self

    def _start_alertmanagers(self, am_file: Path) -> list[Alertmanager]:
        """One Alertmanager, or `replicas` of them in a gossip cluster on loopback, each
        naming the others as peers, all reading the one alertmanager.yml serve writes."""
        if self.replicas == 1:
            am = Alertmanager(am_file, workdir=self.state / "alertmanager")
            return [self._stack.enter_context(am)]
        ports = [free_cluster_port() for _ in range(self.replicas)]
        started = []
        for i, port in enumerate(ports):
            peers = tuple(f"127.0.0.1:{p}" for p in ports if p != port)
            gossip = Gossip(port, peers, peer_timeout="5s" if self.fast else "15s")
            am = Alertmanager(am_file, workdir=self.state / f"alertmanager-{i}", gossip=gossip)
            started.append(self._stack.enter_context(am))
        return started

    def _write_env(self) -> None:
        """`<state>/env`: the stack's settings for a shell (`. .run/env`), so the README's
        tour reaches this stack whatever ports it got. It holds the demo's tokens: 0600."""
        settings = {
            "ALERTPLANE_DB": f"sqlite:///{self.state / 'alertplane.db'}",
            "ALERTPLANE_PLATFORM_CONFIG": str(self.platform),
            "ALERTPLANE_URL": self.serve.url,
            "ADMIN_TOKEN": self.tokens["admin"],
            "ACME_TOKEN": self.tokens["acme"],
            "PROMETHEUS_URL": self.prometheus.url,
            "ALERTMANAGER_URL": self.alertmanager.url,
        }
        env = self.state / "env"
        env.touch(mode=0o600)
        env.chmod(0o600)
        lines = [f"export {k}={shlex.quote(v)}\n" for k, v in settings.items()]
        env.write_text("# the demo stack's settings: `. .run/env`\n" + "".join(lines))

    def apply(self, path: Path) -> str:
        env = {
            **os.environ,
            "ALERTPLANE_PLATFORM_CONFIG": str(self.platform),
            "ALERTPLANE_DB": f"sqlite:///{self.state / 'alertplane.db'}",
            "ALERTPLANE_ACTOR": "demo",
        }
        docs = path
        if self.fast or self.free_ports:
            docs = self.state / "manifests-fast.yaml"
            loaded = load_paths([str(path)])
            for doc in loaded.documents:
                spec = doc.data.get("spec") if isinstance(doc.data, dict) else None
                # tests cannot wait minutes for `for:` to elapse
                if self.fast and isinstance(spec, dict) and "for" in spec:
                    spec["for"] = "0s"
            text = yaml.safe_dump_all([d.data for d in loaded.documents])
            docs.write_text(text.replace("127.0.0.1:9097", f"127.0.0.1:{self.http_port}"))
        proc = subprocess.run(
            [sys.executable, "-m", "alertplane.cli", "apply", "-f", str(docs)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            raise StartupError(f"applying {path} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def demo_tokens(path: Path) -> dict[str, str]:
    """Fresh tokens for the demo (an admin, and one scoped to acme); only hashes are kept."""
    tokens = {"admin": new_token(), "acme": new_token()}
    roles = {"admin": "admin", "acme": "customer:acme"}
    path.write_text(
        "".join(token_line(name, roles[name], tok) + "\n" for name, tok in tokens.items()),
        encoding="utf-8",
    )
    return tokens


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Run the local alertplane demo stack.", allow_abbrev=False
    )
    ap.add_argument("--state", default=".run", help="state directory (default .run)")
    ap.add_argument("--healthy", action="store_true", help="demo metrics breach nothing")
    ap.add_argument(
        "--alertmanager-replicas",
        type=int,
        default=1,
        metavar="N",
        help="run N Alertmanagers in a gossip cluster (HA) instead of one",
    )
    ap.add_argument(
        "--free-ports",
        action="store_true",
        help="free ports for the capture receivers and the exporter instead of 2525/9097/9101",
    )
    args = ap.parse_args()
    if args.alertmanager_replicas < 1:
        ap.error("--alertmanager-replicas: at least 1")
    busy = [] if args.free_ports else busy_ports()  # first: nothing slow starts if it cannot listen
    for line in busy:
        print(f"error: {line}", file=sys.stderr)
    if busy:
        return 3

    def interrupt() -> None:
        raise KeyboardInterrupt

    # SIGTERM stops the stack like Ctrl-C: every child is stopped, within the grace period.
    with Shutdown(grace_s=STOP_GRACE_S).installed() as shutdown:
        shutdown.on_request(interrupt)
        try:
            state = Path(args.state).resolve()
            return _run(state, args.healthy, args.free_ports, args.alertmanager_replicas)
        except KeyboardInterrupt:
            print("stopped", flush=True)
            return 0
        except StartupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3


def _run(state: Path, healthy: bool, free_ports: bool, replicas: int) -> int:
    with LocalStack(state, healthy=healthy, free_ports=free_ports, replicas=replicas) as stack:
        print(
            f"""
alertplane local stack is up (Ctrl-C stops everything):
  alertplane    {stack.serve.url}/console   /docs   /healthz   /readyz   /metrics (admin token)
  tokens (sign in to the console, or `Authorization: Bearer ...`):
      admin            {stack.tokens["admin"]}
      customer:acme    {stack.tokens["acme"]}
  Prometheus    {stack.prometheus.url}/alerts
  Alertmanager  {"  ".join(am.url for am in stack.alertmanagers)}
  captured notifications   {stack.capture.out}/
      (SMTP 127.0.0.1:{stack.smtp_port}, HTTP 127.0.0.1:{stack.http_port})
  rendered config          {stack.out}/
  shell settings           . {stack.state}/env    (then: alertplane get alerts)
""",
            flush=True,
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping…", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

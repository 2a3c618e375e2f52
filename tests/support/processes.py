"""Start the real binaries on free loopback ports, wait until ready, stop them cleanly.

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
        alertmanager_url: str | None = None,
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
        if alertmanager_url:
            host = alertmanager_url.split("://", 1)[-1].rstrip("/")
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
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


class Alertmanager(Process):
    name = "alertmanager"

    def __init__(
        self, config_file: Path, workdir: Path | None = None, port: int | None = None
    ) -> None:
        super().__init__(workdir)
        self.config_file = config_file
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # An empty cluster address disables gossip: one instance, no port clashes.
        return [
            find_binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={self.config_file}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def status(self) -> dict[str, Any]:
        return dict(http_json(f"{self.url}/api/v2/status"))

    def alerts(self) -> list[dict[str, Any]]:
        return list(http_json(f"{self.url}/api/v2/alerts"))


class Postgres(Process):
    """A throwaway PostgreSQL cluster; runs as the `postgres` user (it refuses root)."""

    name = "postgres"

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.bin = _pg_bin()
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._uid, self._gid = _postgres_ids()
        os.chown(self.dir, self._uid, self._gid)
        self._as_postgres(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    def _as_postgres(self, cmd: list[str]) -> None:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=self._drop,
            cwd=self.dir,
        )
        if proc.returncode != 0:
            raise StartupError(f"{cmd[0]} failed: {proc.stdout}{proc.stderr}")

    def _drop(self) -> None:
        if os.getuid() == 0:
            os.setgid(self._gid)
            os.setuid(self._uid)

    def preexec(self) -> None:
        os.setsid()
        self._drop()

    def command(self) -> list[str]:
        return [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.dir}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass
        import psycopg

        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:  # e.g. "the database system is starting up"
            return False

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def _pg_bin() -> Path:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "postgres").exists():
            return root
    raise StartupError("PostgreSQL server binaries not found", "apt-get install postgresql")


def _postgres_ids() -> tuple[int, int]:
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StartupError("no 'postgres' system user", "apt-get install postgresql") from exc
    return entry.pw_uid, entry.pw_gid

"""Real processes for the tests and benchmarks: the demo's Prometheus and Alertmanager
(alertplane.stack.processes, re-exported so tests import every process from one place) and
a throwaway PostgreSQL server, which the product never starts."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from alertplane.stack.processes import (
    Alertmanager,
    Process,
    Prometheus,
    StartupError,
    free_port,
    http_json,
)

__all__ = [
    "Alertmanager",
    "Postgres",
    "Process",
    "Prometheus",
    "StartupError",
    "free_port",
    "http_json",
]


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

"""`alertplane serve` as a process on a free port, and a small HTTP client for it."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.processes import Process, free_port


class ApiServer(Process):
    name = "alertplane-serve"

    def __init__(self, workdir: Path, args: list[str], env: dict[str, str]) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--port", str(self.port)]
        self.env = env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "alertplane.cli", "serve", *self.args]

    def preexec(self) -> None:
        os.setsid()
        os.environ.update(self.env)  # runs in the child before exec

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)


def call(
    url: str, method: str = "GET", body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()

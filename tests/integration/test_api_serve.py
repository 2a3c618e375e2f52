"""`alertplane serve` as a process: tokens from a file or $ALERTPLANE_TOKENS, OpenAPI and
docs served, a write that waits until its rules are on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from alertplane.stack.processes import Process, free_port
from tests.api_env import alert_spec


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


def test_serve_process(db_url: str, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    created = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "token", "create", "ci", "--role", "admin",
         "--append", str(tokens)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = created.stdout.splitlines()[0]
    platform = tmp_path / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp_path / 'secrets'}\n")
    args = ["--db", db_url, "--out", str(tmp_path / "out"), "--platform-config", str(platform)]
    # SQLite gets the tokens by flag, PostgreSQL by environment: both doors are used.
    env = {}
    if db_url.startswith("sqlite"):
        args += ["--tokens", str(tokens)]
    else:
        env["ALERTPLANE_TOKENS"] = str(tokens)
    with ApiServer(tmp_path / "serve", args, env) as server:
        status, spec = call(f"{server.url}/openapi.json")
        assert status == 200
        assert "/customers/{customerId}/alerts/{alertName}/rollback" in spec["paths"]
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        status, page = call(f"{server.url}/docs")
        assert status == 200 and "swagger" in page.lower()
        assert call(f"{server.url}/customers")[0] == 401
        status, body = call(
            f"{server.url}/customers/acme/alerts?wait=true", "POST", alert_spec(), token
        )
        assert status == 201, body
        assert body["status"]["phase"] == "Synced"
        assert "HighErrorRate" in (tmp_path / "out" / "rules" / "acme.yml").read_text()
        status, audit = call(f"{server.url}/customers/acme/audit", token=token)
        assert [(a["actor"], a["source"]) for a in audit["items"]] == [("ci", "api")]
        assert server.proc is not None
        server.proc.terminate()  # uvicorn shuts down, then re-raises the signal
        assert server.proc.wait(20) in (0, -15)

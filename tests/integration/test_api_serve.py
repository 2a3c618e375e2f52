"""`alertplane serve` as a process: tokens from a file or $ALERTPLANE_TOKENS, OpenAPI and
docs served, a write that waits until its rules are on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.api_env import alert_spec
from tests.support.api_serve import ApiServer, call


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

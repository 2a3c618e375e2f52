"""Helpers of test_first_contact_faults: the `alertplane` command as a subprocess with a
clean environment, `alertplane serve` as a process that may start unready, probes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import yaml

from alertplane.service.tokens import new_token, token_line
from tests.support.factories import alert
from tests.support.processes import free_port

T = TypeVar("T")
WAIT_S = 120.0  # generous: seven helpers share two cores


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ALERTPLANE_* setting of the caller (and the extras)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPLANE_")}
    return {**env, **extra}


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = WAIT_S
) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def wait_for(check: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None and found is not False:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def readyz(url: str) -> tuple[int, dict[str, Any]]:
    code, body = get(f"{url}/readyz")
    return code, (json.loads(body) if code else {})


def metric(url: str, name: str, token: str) -> float:
    _, text = get(f"{url}/metrics", token)
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def write_manifest(path: Path, customer: str = "acme") -> Path:
    path.write_text(yaml.safe_dump(alert(customer)), encoding="utf-8")
    return path


class Serve:
    """`alertplane serve` in `workdir` with an admin token; started, not waited for."""

    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = new_token()
        tokens = workdir / "tokens.csv"
        tokens.write_text(token_line("admin", "admin", self.token) + "\n", encoding="utf-8")
        self.log = workdir / "serve.log"
        cmd = [sys.executable, "-m", "alertplane.cli", "serve", "--port", str(self.port)]
        cmd += ["--tokens", str(tokens), "--out", str(workdir / "out"), *args]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=workdir, env=env or clean_env(), stdout=out, stderr=subprocess.STDOUT
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        wait_for(lambda: self.alive() and get(f"{self.url}/healthz")[0] == 200, "/healthz")

    def wait_ready(self) -> dict[str, Any]:
        return wait_for(lambda: self._ready(200), "/readyz 200")

    def wait_unready(self) -> dict[str, Any]:
        return wait_for(lambda: self._ready(503), "/readyz 503")

    def _ready(self, want: int) -> dict[str, Any] | None:
        assert self.alive(), self.text()
        code, body = readyz(self.url)
        return body if code == want else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int, timeout: float = 60.0) -> tuple[int, float]:
        """Send `sig`; (exit code, seconds until exit)."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(30)


class ReloadStub:
    """What answers POST /-/reload in place of Prometheus: `status` (500 until changed)."""

    def __init__(self) -> None:
        self.status = 500
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stub.calls += 1
                body = b"reload refused by the test" if stub.status != 200 else b""
                self.send_response(stub.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}

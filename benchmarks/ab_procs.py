"""What bench_ab.py needs to run one revision's product: its worktree, its processes.

The harness imports nothing from `alertplane`: each revision is reached only through its
public entry points (the `alertplane` CLI, `alertplane serve`'s HTTP API, the
`alertplane operator` process), run as subprocesses with that worktree's `operator/` as
PYTHONPATH. So the same measuring code drives both revisions even when the redesign
moves every internal module.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The real interpreter, not a pyenv shim (a shell script): valgrind must see Python itself.
PYTHON = os.path.realpath(sys.executable)


@dataclass
class Rev:
    """One side of the comparison: a name (A/B), the revision and its worktree."""

    name: str
    rev: str
    tree: Path
    commit: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        drop = ("ALERTPLANE_", "KUBECONFIG", "PYTHONPATH")
        base = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        # A fixed hash seed makes instruction counts repeatable (set/dict iteration order).
        self.env = {**base, "PYTHONPATH": str(self.tree / "operator"), "PYTHONHASHSEED": "0"}

    def cli(self, *args: str) -> list[str]:
        """`alertplane ARGS` of this revision: the function its pyproject.toml names as the
        `alertplane` console script, wherever the redesign put it."""
        with (self.tree / "pyproject.toml").open("rb") as f:
            target = tomllib.load(f)["project"]["scripts"]["alertplane"]
        module, func = target.split(":")
        code = f"import sys; from {module} import {func}; sys.argv[0] = 'alertplane'; "
        return [PYTHON, "-c", code + f"sys.exit({func}())", *args]


@dataclass
class Measured:
    wall_s: float
    cpu_s: float  # user + system of the process and every descendant it waited for
    stdout: str
    stderr: str


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> Measured:
    """Run to completion; CPU from getrusage(RUSAGE_CHILDREN), which includes the tools
    (promtool, amtool) the command waited for. Fails loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, done.stdout, done.stderr)


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) in MB and the CPU seconds (user + system) of a live process."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, method: str = "GET", body: Any = None, token: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, method=method, data=data)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> float:
    """Seconds until `check()` is true; TimeoutError after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(poll)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


def spawn(cmd: list[str], env: dict[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    """A child that dies with this process (setpriv --pdeathsig), its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", *cmd],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"none of {', '.join(names)} on PATH")


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

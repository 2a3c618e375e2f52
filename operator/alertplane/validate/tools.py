"""Thin wrappers around the real `promtool` and `amtool`.

alertplane never re-implements what these tools decide: whether Prometheus accepts a rule
file and whether Alertmanager accepts a configuration or a template.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError

_INSTALL_HINT = {
    "promtool": "install the Debian package 'prometheus' or set ALERTPLANE_PROMTOOL",
    "amtool": "install the Debian package 'prometheus-alertmanager' or set ALERTPLANE_AMTOOL",
}
TIMEOUT_S = 120.0


def tool_path(name: str) -> str:
    override = os.environ.get(f"ALERTPLANE_{name.upper()}")
    found = override or shutil.which(name)
    if not found:
        raise ToolError(f"{name} not found on PATH", _INSTALL_HINT.get(name, ""))
    return found


@dataclass(frozen=True)
class Result:
    ok: bool
    output: str  # stdout and stderr, for messages
    stdout: str = ""


def run(name: str, args: Sequence[str], cwd: str | Path | None = None) -> Result:
    cmd = [tool_path(name), *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{name} did not finish within {TIMEOUT_S:.0f}s") from exc
    except OSError as exc:
        raise ToolError(f"cannot run {name}: {exc.strerror}", _INSTALL_HINT.get(name, "")) from exc
    except UnicodeEncodeError:  # an argument (e.g. a template) that no tool can be given
        return Result(False, "the text is not valid Unicode (it holds a lone surrogate)")
    output = (proc.stdout + proc.stderr).strip()
    return Result(proc.returncode == 0, output, proc.stdout)


def check_rules(paths: Sequence[str | Path]) -> Result:
    return run("promtool", ["check", "rules", *map(str, paths)])


def check_config(path: str | Path) -> Result:
    return run("amtool", ["check-config", str(path)])


def render_template(text: str, glob: str = "/dev/null", html: bool = False) -> Result:
    args = ["template", "render", f"--template.glob={glob}", f"--template.text={text}"]
    if html:
        args.append("--template.type=html")
    return run("amtool", args)


def routes_test(config: str | Path, labels: Mapping[str, str]) -> list[str]:
    """Receivers Alertmanager's router picks for `labels` (amtool config routes test)."""
    matchers = [f"{k}={_quote(v)}" for k, v in sorted(labels.items())]
    result = run("amtool", ["config", "routes", "test", f"--config.file={config}", *matchers])
    if not result.ok:
        raise ToolError(f"amtool config routes test failed: {result.output}")
    return [r.strip() for r in result.stdout.split(",") if r.strip()]


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'

"""Thin wrappers around the real `promtool` and `amtool`.

alertplane never re-implements what these tools decide: whether Prometheus accepts a rule
file and whether Alertmanager accepts a configuration or a template.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import ToolError, ToolTimeout

_INSTALL_HINT = {
    "promtool": "install the Debian package 'prometheus' or set ALERTPLANE_PROMTOOL",
    "amtool": "install the Debian package 'prometheus-alertmanager' or set ALERTPLANE_AMTOOL",
}
TIMEOUT_S = 120.0
# Linux refuses exec (E2BIG) when one argument or environment string is longer than
# MAX_ARG_STRLEN (32 pages) or all of them with their pointers exceed what the stack limit
# allows (sysconf ARG_MAX). Batches stay far below both: a fixed ceiling, so a batch holds
# the same items on every machine, and the system's own limit when it is lower.
ARG_STRLEN = 32 * 4096
ARGV_CEILING = 512 * 1024
FILES_CEILING = 4 * 1024 * 1024  # bytes of files one tool call reads (memory, time per call)
_POINTER = 8
_T = TypeVar("_T")


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


def arg_size(arg: str) -> int:
    """Bytes one argument takes at exec: its UTF-8, the NUL and its pointer."""
    return len(arg.encode("utf-8", "surrogatepass")) + 1 + _POINTER


def argv_budget() -> int:
    """Bytes the arguments of one tool call may take here, beside this environment."""
    try:
        system = os.sysconf("SC_ARG_MAX")
    except (OSError, ValueError):
        system = 128 * 1024  # POSIX's floor, and Linux's before 2.6.23
    env = sum(arg_size(f"{k}={v}") for k, v in os.environ.items())
    return max(0, min(ARGV_CEILING, system // 2 - env - 4096))


def batches(items: Sequence[_T], size: Callable[[_T], int], limit: int) -> list[list[_T]]:
    """`items` in order, cut into runs whose sizes add up to at most `limit` (an item larger
    than `limit` alone: whether it can be run at all is the caller's question)."""
    out: list[list[_T]] = []
    total = limit + 1
    for item in items:
        n = size(item)
        if total + n > limit:
            out.append([])
            total = 0
        out[-1].append(item)
        total += n
    return out


def file_batches(names: Sequence[str], size: Mapping[str, int]) -> list[list[str]]:
    """File names cut so that each call's argument list fits (argv_budget, beside the
    tool's own few arguments) and reads at most FILES_CEILING bytes of files."""
    budget = argv_budget() - 1024
    out = []
    for by_files in batches(names, lambda n: size[n], FILES_CEILING):
        out.extend(batches(by_files, arg_size, budget))
    return out


def run(
    name: str,
    args: Sequence[str],
    cwd: str | Path | None = None,
    stdout: bool = True,
    timeout: float | None = None,
) -> Result:
    """`stdout=False`: what the tool prints on success is thrown away, not kept in memory
    (a batch of templates renders every one of them; only the verdict matters).
    `timeout`: seconds, TIMEOUT_S when None."""
    limit = TIMEOUT_S if timeout is None else timeout
    cmd = [tool_path(name), *args]
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=limit,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolTimeout(f"{name} did not finish within {limit:.0f}s") from exc
    except OSError as exc:
        raise _not_run(name, cmd, exc) from exc
    except UnicodeEncodeError:  # an argument (e.g. a template) that no tool can be given
        return Result(False, "the text is not valid Unicode (it holds a lone surrogate)")
    out = proc.stdout or ""
    return Result(proc.returncode == 0, (out + proc.stderr).strip(), out)


def _not_run(name: str, cmd: Sequence[str], exc: OSError) -> ToolError:
    """Why `cmd` could not start; the install hint only when the tool itself is the cause."""
    if exc.errno == errno.E2BIG:  # the arguments, not the tool: installing changes nothing
        longest = max(len(a.encode("utf-8", "surrogatepass")) for a in cmd)
        total = sum(arg_size(a) for a in cmd)
        return ToolError(
            f"cannot run {name}: its {len(cmd)} arguments are too long for this system "
            f"({total} bytes, the longest {longest}; limits: {ARG_STRLEN} bytes per argument, "
            f"{argv_budget()} for all of them here)",
            "this is a bug in alertplane's batching; please report it. Meanwhile check "
            "fewer objects at a time",
        )
    hint = _INSTALL_HINT.get(name, "") if exc.errno in _MISSING else ""
    return ToolError(f"cannot run {name}: {exc.strerror}", hint)


_MISSING = {errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.ELOOP}


def check_rules(paths: Sequence[str | Path]) -> Result:
    return run("promtool", ["check", "rules", *map(str, paths)])


def check_config(path: str | Path) -> Result:
    return run("amtool", ["check-config", str(path)])


_TEXT = "--template.text="
_DEFINE = '{{ define "alertplane.text" }}'
_CALL = '{{ template "alertplane.text" . }}'


def render_template(text: str, glob: str = os.devnull, html: bool = False) -> Result:
    """amtool template render of `text` (with the templates `glob` names). A text too long
    for one argument (a receiver template may hold 64 Ki characters, 256 KiB of UTF-8; an
    argument at most ARG_STRLEN bytes) is read from a file instead, as a named template the
    argument calls; positions in amtool's message are given back as if it had been the
    argument."""
    if not encodable(text):
        return Result(False, "the text is not valid Unicode (it holds a lone surrogate)")
    if arg_size(_TEXT + text) <= min(ARG_STRLEN, argv_budget() - 1024):
        return run("amtool", _render_args(glob, text, html))
    if glob != os.devnull:
        raise ToolError("a template too long for amtool's command line comes with other files")
    with tempfile.TemporaryDirectory(prefix="alertplane-tmpl-") as tmp:
        path = Path(tmp) / "text.tmpl"
        path.write_text(_DEFINE + text + "{{ end }}", encoding="utf-8")
        result = run("amtool", _render_args(str(path), _CALL, html))
    return Result(result.ok, _as_argument(result.output), result.stdout)


def _render_args(glob: str, text: str, html: bool) -> list[str]:
    args = ["template", "render", f"--template.glob={glob}", _TEXT + text]
    return [*args, "--template.type=html"] if html else args


def _as_argument(output: str) -> str:
    """amtool's words about the file of `render_template` as about the argument: Go counts
    columns in bytes, and only line 1 starts with the define."""

    def position(m: re.Match[str]) -> str:
        column = m.group(2)
        if m.group(1) == "1" and column is not None:
            column = str(max(1, int(column) - len(_DEFINE)))
        return f"template: :{m.group(1)}" + (f":{column}" if column else "") + ":"

    output = re.sub(r"template: text\.tmpl:(\d+)(?::(\d+))?:", position, output)
    return output.replace('executing "alertplane.text"', 'executing ""')


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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

"""The newcomer test: README.md's commands, taken from README.md itself, do what it says.

`make run` (from the "two commands" block) is started as a newcomer would, with its own
state directory and free ports (`RUN_STATE`, `RUN_ARGS=--free-ports`), so it runs beside
anything else; the test waits until the stack says it is up and an example alert is
`Synced`. Then every fenced ```console block of the README is run against it, in order:

- `$ command` lines are the commands (a trailing `\\` continues on the next line); each
  runs with `bash` from the repository, after `. <state>/env` (the tour's first command),
  with `.run/` meaning the stack's state directory;
- `# exits N` after a command is its documented exit status (otherwise 0);
- the lines below a command are output it must show, in that order, among its stdout and
  stderr lines; `...` stands for anything, runs of spaces for any run of spaces.

A command whose status or output does not match yet is run again for up to three minutes,
as a newcomer who sees `Pending` runs `get` again (the tour's firing alert needs its
`for: 30s`); a write that matched the first time is never repeated. Last, Ctrl-C (SIGINT
to `make run`'s process group, as a terminal sends it) must stop every part of the stack.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
UP_S = 300.0  # cold caches on a loaded 2-core machine; warm it is ~11 s
RETRY_S = 180.0
STOP_S = 60.0


@dataclass
class Step:
    command: str
    exit_code: int
    expected: list[str]


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def two_commands(text: str) -> list[str]:
    """The commands of the "two commands" section's block, comments dropped."""
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    (block, *_) = fenced_blocks(section, "sh")
    return [ln.split("#", 1)[0].strip() for ln in block.splitlines() if ln.startswith("make")]


def tour_steps(text: str) -> list[Step]:
    steps: list[Step] = []
    for block in fenced_blocks(text, "console"):
        lines = block.splitlines()
        while lines:
            line = lines.pop(0)
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\") and lines:
                    command = command[:-1] + " " + lines.pop(0).strip()
                found = re.search(r"#\s*exits (\d+)", command)
                steps.append(Step(command, int(found.group(1)) if found else 0, []))
            elif line.strip():
                assert steps, f"output before any command in a console block: {line!r}"
                steps[-1].expected.append(line)
    return steps


def pattern(expected: str) -> re.Pattern[str]:
    parts = [r"\s+".join(map(re.escape, p.split())) for p in expected.strip().split("...")]
    return re.compile(".*".join(parts))


def shows(output: str, expected: list[str]) -> bool:
    """Every expected line matches an output line, in order."""
    lines = iter(output.splitlines())
    return all(any(pattern(want).search(line) for line in lines) for want in expected)


def test_readme_names_the_two_commands() -> None:
    assert two_commands(README.read_text(encoding="utf-8")) == ["make run", "make test"]


def test_readme_tour_parses() -> None:
    steps = tour_steps(README.read_text(encoding="utf-8"))
    assert steps[0].command == ". .run/env"
    assert any("Synced" in line for step in steps for line in step.expected)
    assert any(step.exit_code != 0 for step in steps)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page: its headings, slugged, and explicit ids."""
    text = page.read_text(encoding="utf-8")
    headings = re.findall(r"(?m)^#+ (.*)$", re.sub(r"(?ms)^```.*?^```", "", text))
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    return slugs | set(re.findall(r'<a id="([^"]+)"', text))


def test_readme_and_docs_links_resolve() -> None:
    """Every relative link of README.md, CONTRIBUTING.md and docs/ names a file that exists,
    and an anchor that file has."""
    pages = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"(?ms)^```.*?^```|`[^`\n]*`", "", page.read_text(encoding="utf-8"))
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", text):
            if "://" in target:
                continue
            path = page.parent / target if target else page
            if not path.exists() or (anchor and anchor not in anchors(path)):
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken


def test_setup_skips_what_is_present() -> None:
    """`make run`/`make test` must not reinstall: the package is present here (the suite
    imports it), so `make install`'s check says so and pip is not run."""
    for extra in ("demo", "test"):
        got = subprocess.run(
            [sys.executable, "hack/installed.py", extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert got.returncode == 0, got.stderr


@dataclass
class Stack:
    state: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def env(self) -> dict[str, str]:
        found = {}
        for line in (self.state / "env").read_text(encoding="utf-8").splitlines():
            if line.startswith("export "):
                key, value = line[len("export ") :].split("=", 1)
                found[key] = value.strip("'")
        return found


def _wait_up(stack: Stack) -> None:
    deadline = time.monotonic() + UP_S
    while "stack is up" not in stack.log.read_text(errors="replace"):
        if stack.proc.poll() is not None:
            pytest.fail(f"make run exited {stack.proc.returncode}:\n{stack.log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"make run not up within {UP_S:.0f}s:\n{stack.log.read_text()}")
        time.sleep(0.5)


def _wait_synced(stack: Stack) -> None:
    """An example alert is Synced: live in Prometheus and Alertmanager."""
    env = {**os.environ, **stack.env()}
    cmd = ["alertplane", "get", "alerts", "-c", "acme"]
    deadline = time.monotonic() + RETRY_S
    while True:
        got = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if re.search(r"acme-high-error-rate .* Synced", got.stdout):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"HighErrorRate not Synced:\n{got.stdout}{got.stderr}")
        time.sleep(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    (command, *_) = two_commands(README.read_text(encoding="utf-8"))
    state = tmp_path_factory.mktemp("newcomer")
    log = state.parent / "make-run.log"
    argv = [*command.split(), f"RUN_STATE={state}", "RUN_ARGS=--free-ports"]
    # A newcomer's shell, not the `make test` this may run under (its variables and flags).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Stack(state, proc, log)
    try:
        _wait_up(running)
        _wait_synced(running)
        yield running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _run(step: Step, stack: Stack) -> subprocess.CompletedProcess[str]:
    state = f"{stack.state}/"
    script = f". {state}env\n{step.command.replace('.run/', state)}"
    return subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_tour_runs_as_documented(stack: Stack) -> None:
    for step in tour_steps(README.read_text(encoding="utf-8")):
        deadline = time.monotonic() + RETRY_S
        while True:
            got = _run(step, stack)
            output = got.stdout + got.stderr
            if got.returncode == step.exit_code and shows(output, step.expected):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"$ {step.command}\nexit {got.returncode} (documented: {step.exit_code})\n"
                    f"{output}\n--- the README shows:\n" + "\n".join(step.expected)
                )
            time.sleep(2)


def test_ctrl_c_stops_every_part(stack: Stack) -> None:
    os.killpg(stack.proc.pid, signal.SIGINT)
    stack.proc.wait(timeout=STOP_S)
    assert "stopping" in stack.log.read_text(errors="replace")
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(stack.state) in text:
            left.append(text)
    assert not left, left

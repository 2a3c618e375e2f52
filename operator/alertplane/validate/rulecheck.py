"""`promtool check rules` over many rule files: parallel, and never twice for the same bytes.

Validation checks each customer's rendered rules, and the files sink checks what it is
about to write; in the common case those are the very same bytes, so a content hash of
every file promtool accepted lets the second check cost nothing. promtool is single
threaded per invocation, so large sets are split across one process per core.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import tools

_ACCEPTED: set[str] = set()
_ACCEPTED_MAX = 100_000
_LOCK = threading.Lock()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def forget_accepted() -> None:
    """Drop the accepted-content cache (benchmarks measure cold checks)."""
    with _LOCK:
        _ACCEPTED.clear()


def check_rule_texts(files: Mapping[str, str]) -> dict[str, list[str]]:
    """File name → promtool's error lines for it (empty when accepted).

    Names must be plain file names (e.g. `acme.yml`); they appear in the error lines.
    """
    verdicts: dict[str, list[str]] = {}
    pending: dict[str, str] = {}
    for name, text in files.items():
        if _digest(text) in _ACCEPTED:
            verdicts[name] = []
        else:
            pending[name] = text
    if not pending:
        return verdicts
    with tempfile.TemporaryDirectory(prefix="alertplane-promtool-") as tmp:
        for name, text in pending.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        names = sorted(pending)
        workers = max(1, min(os.cpu_count() or 1, len(names) // 50 + 1))
        sizes = {n: len(pending[n].encode("utf-8")) for n in names}
        # Each call's argument list and files bounded by bytes (tools.file_batches), at
        # every size: a batch of names too long for exec fails as E2BIG.
        chunks = [b for i in range(workers) for b in tools.file_batches(names[i::workers], sizes)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(lambda chunk: _check(tmp, chunk), chunks):
                verdicts.update(result)
    with _LOCK:
        if len(_ACCEPTED) > _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED.update(_digest(pending[n]) for n in pending if not verdicts[n])
    return verdicts


def _check(directory: str, names: list[str]) -> dict[str, list[str]]:
    result = tools.run("promtool", ["check", "rules", *names], cwd=directory)
    lines = result.stdout.splitlines()
    ok = {
        line.removeprefix("Checking ").strip()
        for line, nxt in zip(lines, [*lines[1:], ""], strict=True)
        if line.startswith("Checking ") and nxt.strip().startswith("SUCCESS")
    }
    errors: dict[str, list[str]] = {n: [] for n in names}
    current: str | None = None
    for line in result.output.splitlines():
        head = line.split(": ", 1)[0]
        if head in errors and head not in ok:
            current = head
            errors[head].append(line[len(head) + 2 :])
        elif current is not None and line.startswith("  ") and "FAILED" not in line:
            errors[current][-1] += " " + line.strip()
    for name in names:
        if name not in ok and not errors[name]:
            errors[name] = _unplaced(directory, name, result.output if len(names) == 1 else "")
    return errors


def _unplaced(directory: str, name: str, output: str) -> list[str]:
    """promtool's words about a file it refuses without naming a rule (its duplicate-rule
    lint: an alert and a recording rule of one name and labels): the input explains it, so
    it is that file's refusal, never a ToolError that would stop every customer's sync.
    In a batch, promtool's stderr does not say which file it is about: run it alone."""
    if not output:
        output = tools.run("promtool", ["check", "rules", name], cwd=directory).output
    text = output.replace(f"Checking {name}", "").replace("FAILED:", "")
    if "SUCCESS" in text:  # accepted alone: nothing of this file's own to report
        return []
    words = " ".join(text.split())
    return [words or f"promtool rejected {name} without saying why"]

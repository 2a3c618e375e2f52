"""Atomic file replacement: readers see the old file or the new one, never a mix.

Prometheus and Alertmanager may reload at any moment (a SIGHUP, a timer, a human); a
half-written rule file would break every customer, so every write goes to a temporary
file in the same directory, is fsynced, and is renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def stage(target: Path, text: str, mode: int = 0o644) -> Path:
    """Write `text` to a fsynced temporary file beside `target`; the caller renames it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def commit(staged: Path, target: Path) -> None:
    os.replace(staged, target)


def fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry itself is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, text: str, mode: int = 0o644) -> None:
    commit(stage(target, text, mode), target)
    fsync_dir(target.parent)


def discard(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()

"""The files sink: rendered output in a directory, gated by the real promtool and amtool.

Every changed file is staged beside its target, the staged files are checked, and only
then renamed into place; if a check fails nothing is renamed, so the directory keeps the
last good configuration.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import commit, discard, fsync_dir, stage
from ..errors import Problem
from ..model import CustomerReceiver
from ..render import Rendered
from ..render.yamlout import GENERATED
from ..validate.output import check_output
from .base import Files, Liveness, Receivers, ReloadOutcome
from .loaded_query import FILES_HINTS, LoadedCheck
from .reload import Reloader


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)  # relative paths replaced
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not rendered, yet deliberately not removed

    @property
    def changed(self) -> list[str]:
        return [*self.written, *self.removed]


def write_rendered(
    out_dir: Path, rendered: Rendered, prune: bool = True, keep: Collection[str] = ()
) -> WriteResult:
    """Write a complete rendering; with `prune`, drop rule files of vanished customers.
    Files in `keep` that exist are left exactly as they are (a customer with invalid
    objects keeps its last good output as a whole); files left in place are listed as kept."""
    files: dict[str, str | None] = dict(rendered.files())
    kept: list[str] = []
    for rel in sorted(keep):
        if rel in files and (out_dir / rel).is_file():
            del files[rel]
            kept.append(rel)
    for rel in generated_rule_files(out_dir):
        if rel in files or rel in kept:
            continue
        if prune and rel not in keep:
            files[rel] = None
        else:
            kept.append(rel)
    result = write_files(out_dir, files)
    result.kept = kept
    return result


def write_files(out_dir: Path, files: Mapping[str, str | None]) -> WriteResult:
    """Check, then atomically write, every file whose content changed; None deletes."""
    result = WriteResult()
    staged: dict[str, Path] = {}
    texts = {rel: text for rel, text in files.items() if text is not None}
    try:
        for rel, text in sorted(texts.items()):
            target = out_dir / rel
            if _same(target, text):
                result.unchanged.append(rel)
                continue
            staged[rel] = stage(target, text)
        check_output({rel: texts[rel] for rel in staged})
        for rel, tmp in staged.items():
            commit(tmp, out_dir / rel)
            result.written.append(rel)
    except BaseException:
        discard(list(staged.values()))
        raise
    for rel, content in sorted(files.items()):
        if content is None and (out_dir / rel).exists():
            (out_dir / rel).unlink()
            result.removed.append(rel)
    for directory in {(out_dir / rel).parent for rel in result.changed}:
        fsync_dir(directory)
    return result


def _same(target: Path, text: str) -> bool:
    try:
        return target.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def read_previous(path: Path) -> str | None:
    """The file as it is now, or None when there is none; an unreadable or non-UTF-8
    file reads as empty text, which no caller mistakes for alertplane's output."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""


def generated_rule_files(out_dir: Path) -> list[str]:
    """Rule files alertplane wrote (recognised by the header); foreign files are never ours."""
    found: list[str] = []
    rules_dir = out_dir / "rules"
    if not rules_dir.is_dir():
        return found
    for path in sorted(rules_dir.glob("*.yml")):
        try:
            with path.open(encoding="utf-8") as fh:
                ours = fh.read(len(GENERATED)) == GENERATED
        except (OSError, UnicodeDecodeError):
            ours = False
        if ours:
            found.append(f"rules/{path.name}")
    return found


class FileSink:
    """Rule files and alertmanager.yml in a directory Prometheus and Alertmanager read;
    made live by `POST /-/reload` where URLs are given, and live once what they loaded is
    what was written (sinks/loaded_query.py: a target reading another directory, or a
    reload that raced a write, is caught there)."""

    name = "files"
    written_message: str | None = None  # the default: "written; no reload URL configured"

    def __init__(self, out_dir: Path, reloader: Reloader) -> None:
        self.out_dir = out_dir
        self.reloader = reloader
        self.loaded = LoadedCheck(reloader, lambda rel: read_previous(out_dir / rel), FILES_HINTS)

    def start(self) -> None:
        """Nothing to read ahead: the files themselves are compared on every write."""

    def refresh(self) -> None:
        """Nothing cached: a resync compares with the files as they are."""

    def generated_outputs(self) -> list[str]:
        return generated_rule_files(self.out_dir)

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        return write_files(self.out_dir, files).changed

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        return self.loaded.make_live(written)

    def liveness(self, output: str, customer_id: str) -> Liveness:
        return self.loaded.liveness(output, customer_id)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []  # secret references resolve in files the store or the platform writes

    def location(self, output: str, customer_id: str) -> str:
        return output  # the path below the output directory, as in standalone mode

"""Write rendered output into a directory, gated by the real promtool and amtool.

Every changed file is staged beside its target, the staged files are checked, and only
then renamed into place; if a check fails nothing is renamed, so the directory keeps the
last good configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OutputRejected
from ..render import ALERTMANAGER_PATH, Rendered
from ..render.yamlout import GENERATED
from ..validate import tools
from ..validate.rulecheck import check_rule_texts
from .atomic import commit, discard, fsync_dir, stage


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)  # relative paths replaced
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def write_rendered(out_dir: Path, rendered: Rendered, prune: bool = True) -> WriteResult:
    """Check, then atomically write, every file whose content changed."""
    result = WriteResult()
    staged: dict[str, Path] = {}
    try:
        for rel, text in sorted(rendered.files().items()):
            target = out_dir / rel
            if _same(target, text):
                result.unchanged.append(rel)
                continue
            staged[rel] = stage(target, text)
        _check(staged, rendered)
        for rel, tmp in staged.items():
            commit(tmp, out_dir / rel)
            result.written.append(rel)
    except BaseException:
        discard(list(staged.values()))
        raise
    if prune:
        result.removed = _prune(out_dir, set(rendered.rules))
    for directory in {(out_dir / rel).parent for rel in [*result.written, *result.removed]}:
        fsync_dir(directory)
    return result


def _check(staged: dict[str, Path], rendered: Rendered) -> None:
    rule_files = {Path(rel).name: rendered.rules[rel] for rel in staged if rel in rendered.rules}
    if rule_files:
        errors = [f"{n}: {e}" for n, es in check_rule_texts(rule_files).items() for e in es]
        if errors:
            raise OutputRejected("promtool rejected the rendered rules", "\n".join(errors))
    am = staged.get(ALERTMANAGER_PATH)
    if am is not None:
        checked = tools.check_config(am)
        if not checked.ok:
            raise OutputRejected("amtool rejected the rendered Alertmanager config", checked.output)


def _same(target: Path, text: str) -> bool:
    try:
        return target.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _prune(out_dir: Path, keep: set[str]) -> list[str]:
    """Remove rule files of customers that have none any more (only files we generated)."""
    removed: list[str] = []
    rules_dir = out_dir / "rules"
    if not rules_dir.is_dir():
        return removed
    for path in sorted(rules_dir.glob("*.yml")):
        rel = f"rules/{path.name}"
        if rel in keep:
            continue
        try:
            ours = path.read_text(encoding="utf-8").startswith(GENERATED)
        except (OSError, UnicodeDecodeError):
            ours = False
        if ours:
            path.unlink()
            removed.append(rel)
    return removed

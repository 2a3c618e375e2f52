"""Each shard's scrape targets, split from the platform's list (`prometheus.targetsFile`)
into `<out>/shards/<shard>/targets.json`, which that shard's `file_sd_configs` reads
(render/shard_export.py; docs/sharding.md, topology (a))."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path

from ..atomic import write_atomic
from ..errors import UsageError
from ..render.shard_export import Group, parse_targets, split_targets, targets_json
from .files import read_previous
from .sharded_layout import TARGETS, shard_dir

log = logging.getLogger("alertplane.shards")


class TargetLists:
    """The split, rewritten when the list or the placement changes (a shard's file is
    replaced atomically, only when its content differs: file_sd re-reads what changed)."""

    def __init__(self, out_dir: Path, source: str | None) -> None:
        self.out_dir = out_dir
        self.source = source
        self._read: tuple[float, int] | None = None  # the source's mtime and size, last read
        self._groups: list[Group] = []
        self._state: Hashable = None  # what the last split was made for
        self._refused: tuple[float, int] | None = None  # a version that did not parse

    def groups(self) -> list[Group]:
        """The platform's list; the last good one when it cannot be read now (a half-edited
        file must not empty every shard's targets), with a warning."""
        assert self.source is not None
        path = Path(self.source)
        seen: tuple[float, int] | None = None
        try:
            stat = path.stat()
            seen = (stat.st_mtime, stat.st_size)
            if seen not in (self._read, self._refused):
                self._groups = parse_targets(path.read_text(encoding="utf-8"), self.source)
                self._read = seen
        except (OSError, UnicodeDecodeError, UsageError) as exc:
            if seen is None or seen != self._refused:  # once per version of the file
                log.warning("prometheus.targetsFile: keeping the last good list: %s", exc)
            self._refused = seen
        return self._groups

    def write(
        self, shards: Sequence[str], holders: Callable[[str], Iterable[str]], state: Hashable
    ) -> None:
        """Split again when the list or `state` (what else the split depends on) changed."""
        if self.source is None:
            return
        read = self._read
        groups = self.groups()
        if (self._read, state) == (read, self._state) and read is not None:
            return
        self._state = state
        split, unowned = split_targets(groups, holders, shards)
        if unowned:
            log.debug("%d target group(s) carry no customer_id: on no shard's list", unowned)
        for shard in shards:
            path = shard_dir(self.out_dir, shard) / TARGETS
            text = targets_json(split.get(shard, []))
            if read_previous(path) != text:
                write_atomic(path, text)

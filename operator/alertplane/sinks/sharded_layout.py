"""Where the sharded files sink keeps each shard's rules, and what it remembers of shards.

    <out>/alertmanager.yml                    every shard's alerts go to the same Alertmanager(s)
    <out>/shards/<shard>/rules/<id>.yml       the rules shard <shard>'s Prometheus loads
    <out>/shards/<shard>/targets.json         its customers' scrape targets (file_sd; optional)
    <out>/shards/state.json                   the shard list last used (name → reload URL)

The directories are the truth of where a customer's rules are (a restart reads them back);
state.json only keeps the reload URL of a shard after it leaves the platform config, so
the customers moving off it can still be removed from it without a gap (sinks/sharded.py).
A name is a DNS label (render/platform.py), never `state.json`, so nothing collides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from ..atomic import write_atomic
from .files import generated_rule_files

SHARDS = "shards"
STATE = "state.json"
TARGETS = "targets.json"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_RULE = re.compile(r"^rules/(?P<id>[^/]+)\.yml$")


def rules_rel(shard: str | None, customer_id: str) -> str:
    """A customer's rule file below the output directory (None: the unsharded layout)."""
    own = f"rules/{customer_id}.yml"
    return own if shard is None else f"{SHARDS}/{shard}/{own}"


def customer_of(output: str) -> str | None:
    """`acme` for the output `rules/acme.yml`; None for any other output."""
    found = _RULE.match(output)
    return found.group("id") if found else None


def shard_dir(out_dir: Path, shard: str) -> Path:
    return out_dir / SHARDS / shard


def scan(out_dir: Path) -> dict[str, set[str | None]]:
    """customer → the shards holding a rule file alertplane wrote for it (None: the
    unsharded `<out>/rules/`, output of a run before sharding)."""
    held: dict[str, set[str | None]] = {}
    places: list[tuple[str | None, Path]] = [(None, out_dir)]
    places += [(name, shard_dir(out_dir, name)) for name in shard_dirs(out_dir)]
    for shard, where in places:
        for rel in generated_rule_files(where):
            customer = customer_of(rel)
            if customer is not None:
                held.setdefault(customer, set()).add(shard)
    return held


def shard_dirs(out_dir: Path) -> list[str]:
    """The shard directories that exist (shards of the config, and former ones)."""
    root = out_dir / SHARDS
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))


def read_state(out_dir: Path) -> dict[str, str | None]:
    """shard → reload URL, as last used; {} when there is none or it cannot be read (a
    former shard is then removed from without a reload: its rules stay loaded there until
    it reloads or stops, evaluated twice, never missing)."""
    try:
        data = json.loads((out_dir / SHARDS / STATE).read_text(encoding="utf-8"))
        shards = data["shards"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(shards, dict):
        return {}
    return {
        str(k): (v if isinstance(v, str) else None)
        for k, v in shards.items()
        if _NAME.match(str(k))
    }


def write_state(out_dir: Path, shards: Mapping[str, str | None]) -> None:
    text = json.dumps({"shards": dict(sorted(shards.items()))}, indent=2) + "\n"
    path = out_dir / SHARDS / STATE
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    write_atomic(path, text)


def remove_empty(out_dir: Path, shard: str) -> None:
    """A former shard's directory, once no customer is left on it (its target list too:
    nothing of it is scraped any more); kept when anything else is in it."""
    where = shard_dir(out_dir, shard)
    (where / TARGETS).unlink(missing_ok=True)
    for directory in (where / "rules", where):
        try:
            directory.rmdir()
        except OSError:
            return


def same_file(one: Path, other: Path) -> bool:
    """One file under two names (a shard directory linked or mounted as another's)."""
    try:
        return one.samefile(other)
    except OSError:
        return False

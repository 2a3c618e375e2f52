"""`alertplane shards`: where each customer's rules are evaluated, what a changed shard list
would move, and the placement in the forms Prometheus' configuration reads (docs/sharding.md).

    alertplane shards --platform-config platform.yaml [--db URL] [--customers]
    alertplane shards --platform-config platform.yaml --to new-platform.yaml
    alertplane shards --platform-config platform.yaml --export DIR [--targets FILE]

Read-only but for `--export`'s directory: the customers come from the database (`--db`,
the standalone store or the operator's mirror), the placement from render/placement.py,
the same function the sinks use, so what this prints is what they do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import settings
from .atomic import write_atomic
from .errors import UsageError
from .model.common import is_dns_label
from .render.placement import Move, counts, moves, placement
from .render.platform import PlatformConfig, load_platform_config
from .render.shard_export import (
    TENANT,
    keep_relabel,
    parse_targets,
    split_targets,
    targets_json,
)
from .render.yamlout import dump
from .store.db import DEFAULT_DB, open_db
from .store.repo import Store

EXIT_OK = 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "shards",
        help="show which Prometheus shard evaluates each customer, and what a new list moves",
    )
    settings.add(p, "db", metavar="URL", default=DEFAULT_DB)
    settings.add(p, "platform_config", metavar="FILE")
    p.add_argument("--customers", action="store_true", help="also list each customer's shard")
    p.add_argument(
        "--to",
        metavar="FILE",
        help="another platform config: the customers its shard list would move, and where",
    )
    p.add_argument(
        "--export",
        metavar="DIR",
        help="write DIR/<shard>/relabel.yml (a relabel keep rule on customer_id) and, with "
        "a target list, DIR/<shard>/targets.json (file_sd); with --to, for the new list",
    )
    p.add_argument(
        "--targets",
        metavar="FILE",
        help="the file_sd list of every customer's targets to split (default: the platform "
        "config's prometheus.targetsFile)",
    )
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")


def _customers(args: argparse.Namespace, config: PlatformConfig) -> list[str]:
    store = Store(open_db(args.db), secrets_dir=config.secrets_dir)
    return sorted(store.known_customers())


def _load(path: str) -> PlatformConfig:
    config = load_platform_config(path)
    if not config.prometheus.shards:
        raise UsageError(
            f"{path}: prometheus.shards is empty: every customer is on the one Prometheus",
            "list the shards as prometheus.shards: [{name, url}] (docs/sharding.md)",
        )
    return config


def cmd_shards(args: argparse.Namespace) -> int:
    if args.platform_config is None:
        raise UsageError(
            "alertplane shards needs --platform-config FILE", "the file listing prometheus.shards"
        )
    now = _load(args.platform_config)
    new = _load(args.to) if args.to else None
    customers = _customers(args, now)
    assigned = placement(customers, now.prometheus)
    moved = moves(customers, now.prometheus, new.prometheus) if new else []
    if args.export:
        _export(Path(args.export), new or now, customers, args.targets)
    report = _report(now, assigned, new, moved, customers)
    if args.output == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(report, args.customers, args.export)
    return EXIT_OK


def _report(
    now: PlatformConfig,
    assigned: Mapping[str, str],
    new: PlatformConfig | None,
    moved: list[Move],
    customers: list[str],
) -> dict[str, Any]:
    per = counts(assigned, now.prometheus)
    out: dict[str, Any] = {
        "shards": [
            {"name": s.name, "url": s.url, "customers": per.get(s.name, 0)}
            for s in now.prometheus.shards
        ],
        "pins": dict(sorted(now.prometheus.pins.items())),
        # A pin whose customer does not exist (a typo) pins nobody: said, not silent.
        "unknownPins": sorted(set(now.prometheus.pins) - set(customers)),
        "placement": dict(sorted(assigned.items())),
    }
    if new is not None:
        after = counts(placement(customers, new.prometheus), new.prometheus)
        out["to"] = {
            "shards": [
                {"name": s.name, "url": s.url, "customers": after.get(s.name, 0)}
                for s in new.prometheus.shards
            ],
            "moves": [
                {"customerId": m.customer_id, "from": m.source, "to": m.target} for m in moved
            ],
        }
    return out


def _print(report: dict[str, Any], each: bool, export: str | None) -> None:
    total = len(report["placement"])
    print(f"{total} customer(s) on {len(report['shards'])} shard(s)")
    _table(report["shards"])
    for customer, shard in report["pins"].items():
        unknown = " (no such customer)" if customer in report["unknownPins"] else ""
        print(f"pinned: {customer} → {shard}{unknown}")
    if each:
        for customer, shard in report["placement"].items():
            print(f"{customer}  {shard}")
    to = report.get("to")
    if to is not None:
        share = f" ({100 * len(to['moves']) / total:.1f}%)" if total else ""
        print(f"\nthe new list moves {len(to['moves'])} of {total} customer(s){share}:")
        for m in to["moves"]:
            print(f"  {m['customerId']}  {m['from']} → {m['to']}")
        print("after the change:")
        _table(to["shards"])
    if export:
        print(f"\nexported to {export}/<shard>/ (relabel.yml, targets.json with a target list)")


def _table(shards: list[dict[str, Any]]) -> None:
    width = max([len("SHARD"), *(len(s["name"]) for s in shards)])
    print(f"  {'SHARD':{width}}  CUSTOMERS  URL")
    for s in shards:
        print(f"  {s['name']:{width}}  {s['customers']:9d}  {s['url'] or '-'}")


def _export(out: Path, config: PlatformConfig, customers: list[str], targets: str | None) -> None:
    """Each shard's relabel keep rule and, given a target list, its file_sd list. From the
    placement alone (no move in progress): run it with --to before switching, so the new
    shards scrape ahead of the rules they are about to get. Customers only in the target
    list (no rules yet) are placed like every other customer."""
    source = targets or config.prometheus.targets_file
    groups = _groups(source) if source else []
    listed = {str(g["labels"].get(TENANT)) for g in groups}
    assigned = placement({*customers, *filter(is_dns_label, listed)}, config.prometheus)
    names = config.prometheus.shard_names()
    for shard in names:
        mine = [c for c, at in assigned.items() if at == shard]
        write_atomic(out / shard / "relabel.yml", dump([keep_relabel(mine)]))
    if source:
        split, _ = split_targets(groups, lambda c: [assigned[c]], names)
        for shard in names:
            write_atomic(out / shard / "targets.json", targets_json(split.get(shard, [])))


def _groups(source: str) -> list[dict[str, Any]]:
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: cannot read the target list: {exc}") from exc
    return parse_targets(text, source)


COMMANDS = {"shards": cmd_shards}

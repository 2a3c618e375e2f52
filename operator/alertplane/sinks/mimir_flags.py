"""The Mimir sink's command-line arguments, shared by `serve` and `operator`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .. import settings
from ..errors import UsageError
from ..render.mimir import MAX_GROUPS_PER_TENANT, MAX_RULES_PER_GROUP, Limits
from ..render.platform import PlatformConfig

if TYPE_CHECKING:  # the factory imports every sink: only `serve --sink mimir` needs it
    from .factory import SinkSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    settings.add(p, "mimir_url", metavar="URL")
    settings.add(p, "mimir_token_file", metavar="FILE")
    p.add_argument(
        "--mimir-max-rules-per-group",
        type=int,
        default=MAX_RULES_PER_GROUP,
        metavar="N",
        help="with --sink mimir: Mimir's -ruler.max-rules-per-rule-group for the tenants "
        f"(default {MAX_RULES_PER_GROUP}, Mimir's): larger rule groups are split",
    )
    p.add_argument(
        "--mimir-max-groups-per-tenant",
        type=int,
        default=MAX_GROUPS_PER_TENANT,
        metavar="N",
        help="with --sink mimir: Mimir's -ruler.max-rule-groups-per-tenant (default "
        f"{MAX_GROUPS_PER_TENANT}, Mimir's; 0: none): a customer needing more is refused",
    )


def limits(args: argparse.Namespace) -> Limits:
    return Limits(args.mimir_max_rules_per_group, args.mimir_max_groups_per_tenant)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """`serve --sink`: files (the default) or mimir."""
    p.add_argument(
        "--sink",
        choices=("files", "mimir"),
        default="files",
        help="where rendered output goes: files in --out (reloading --prometheus-url and "
        "--alertmanager-url) or Grafana Mimir, each customer a tenant (docs/mimir.md)",
    )
    add_arguments(p)


def serve_sink(args: argparse.Namespace, platform: PlatformConfig) -> SinkSettings | None:
    """The sink settings of `serve --sink mimir` (checked); None: the files sink."""
    if args.sink != "mimir":
        if args.mimir_url:
            raise UsageError("--mimir-url needs --sink mimir", "add --sink mimir")
        return None
    from .factory import SinkSettings

    sink = SinkSettings(
        kind="mimir",
        platform=platform,
        mimir_url=args.mimir_url,
        mimir_token_file=args.mimir_token_file,
        mimir_limits=limits(args),
    )
    sink.check()
    return sink

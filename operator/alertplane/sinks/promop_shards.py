"""The prometheus-operator objects the operator's flags name, and, sharded, which
`Prometheus` object evaluates which shard.

One `Prometheus` object per shard, whose `ruleSelector` selects `alertplane.io/shard:
<shard>` (sinks/kubeshards.py labels every PrometheusRule so). The operator is told which
with `--promop-prometheus SHARD=[NS/]NAME` (repeatable; every shard named, or none: then
Synced means written). A shard's Prometheus whose selector does not pin the shard would
load every shard's customers — the prometheus-operator `shards` trap, rules evaluated on
data the server does not hold (`absent()` firing falsely) — so such an object is reported
as a failure of that shard, naming the fix, instead of being believed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from .kubeshards import SHARD_LABEL

ShardObjects = dict[str, list[tuple[str, str]]]  # shard → its Prometheus objects (ns, name)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def parse_prometheus(value: str, namespace: str) -> tuple[str, str]:
    """`[NS/]NAME` of a Prometheus object (NS: the sink namespace) as (ns, name)."""
    ns, slash, name = value.rpartition("/")
    ns = ns if slash else namespace
    if not _DNS_LABEL.match(ns) or not _DNS_SUBDOMAIN.match(name):
        raise UsageError(
            f"--promop-prometheus {value!r} does not name a Prometheus object",
            "give NAME or NAMESPACE/NAME (lower-case DNS names), e.g. monitoring/main",
        )
    return ns, name


def parse_alertmanager(value: str) -> str:
    """NAME of an Alertmanager object in the sink namespace."""
    if not _DNS_SUBDOMAIN.match(value):
        hint = "the Alertmanager must live in the sink namespace: give its NAME only"
        raise UsageError(
            f"--promop-alertmanager {value!r} does not name an Alertmanager object",
            hint if "/" in value else "give its NAME (a lower-case DNS name), e.g. main",
        )
    return value


def parse_shard_prometheus(
    values: Sequence[str], namespace: str, shards: Sequence[str]
) -> tuple[list[tuple[str, str]], ShardObjects]:
    """The `--promop-prometheus` values: unsharded `[NS/]NAME`s, and `SHARD=[NS/]NAME` by
    shard. UsageError unless they fit the platform's shard list: all unsharded without
    shards, all by shard with them, every shard named once named at all."""
    plain: list[tuple[str, str]] = []
    by_shard: ShardObjects = {}
    for value in values:
        shard, eq, rest = value.partition("=")
        if not eq:
            if shards:
                raise UsageError(
                    f"--promop-prometheus {value!r}: the platform config has prometheus.shards",
                    "name each shard's Prometheus object: --promop-prometheus SHARD=[NS/]NAME "
                    f"(shards: {', '.join(shards)})",
                )
            plain.append(parse_prometheus(value, namespace))
            continue
        if shard not in shards:
            known = ", ".join(shards) if shards else "none: prometheus.shards is empty"
            raise UsageError(
                f"--promop-prometheus {value!r}: no shard named {shard!r} (shards: {known})",
                "give SHARD=[NS/]NAME for a shard of the platform config, or [NS/]NAME unsharded",
            )
        by_shard.setdefault(shard, []).append(parse_prometheus(rest, namespace))
    owners: dict[tuple[str, str], str] = {}
    for shard, objs in sorted(by_shard.items()):
        for obj in objs:
            if owners.setdefault(obj, shard) != shard:
                raise UsageError(
                    f"--promop-prometheus: Prometheus {obj[0]}/{obj[1]} is named for shards "
                    f"{owners[obj]} and {shard}",
                    "one Prometheus object per shard: its ruleSelector selects one shard",
                )
    missing = [s for s in shards if s not in by_shard]
    if by_shard and missing:
        raise UsageError(
            f"--promop-prometheus names no Prometheus object for shard(s) {', '.join(missing)}",
            "name one per shard (SHARD=[NS/]NAME), or none (Synced then means written)",
        )
    return plain, {s: sorted(set(objs)) for s, objs in by_shard.items()}


def selector_problem(obj: Mapping[str, Any] | None, shard: str) -> str | None:
    """Why Prometheus `obj` does not load exactly `shard`'s PrometheusRules (None: it does):
    its ruleSelector must require `alertplane.io/shard: <shard>` (matchLabels, or a
    matchExpressions `In` with that one value)."""
    if obj is None:
        return None  # reported as missing already
    selector = (obj.get("spec") or {}).get("ruleSelector") or {}
    if (selector.get("matchLabels") or {}).get(SHARD_LABEL) == shard:
        return None
    for expr in selector.get("matchExpressions") or []:
        if (
            expr.get("key") == SHARD_LABEL
            and expr.get("operator") == "In"
            and list(expr.get("values") or []) == [shard]
        ):
            return None
    meta = obj.get("metadata") or {}
    return (
        f"Prometheus {meta.get('namespace')}/{meta.get('name')} evaluates shard {shard} but "
        f"its ruleSelector does not require {SHARD_LABEL}: {shard}, so it would load other "
        "shards' customers and evaluate them on data it does not hold; add "
        f"matchLabels {{{SHARD_LABEL}: {shard}}} to its spec.ruleSelector"
    )


def shard_of_objects(
    by_shard: Mapping[str, Sequence[tuple[str, str]]],
) -> dict[tuple[str, str], str]:
    """(ns, name) → its shard (`parse_shard_prometheus` names each object for one shard)."""
    return {obj: shard for shard, objs in by_shard.items() for obj in objs}

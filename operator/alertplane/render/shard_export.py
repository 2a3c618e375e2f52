"""The placement in the forms Prometheus' own configuration reads (topology (a) of
docs/sharding.md: each shard receives exactly its customers' series, or its rules
evaluate on nothing and `absent()` fires falsely).

- `split_targets`: a `file_sd` target list (every customer's scrape targets, each group
  labelled `customer_id`) split per shard; each shard's `file_sd_configs` reads its own
  list, and Prometheus re-reads it when it changes, with no reload.
- `keep_relabel`: a `relabel_configs` entry keeping only a shard's customers, by the
  `customer_id` label: for a shard scraping shared targets (`metric_relabel_configs`),
  or an agent remote-writing to every shard (`write_relabel_configs`).

Pure: the caller says which shards hold which customer (render/placement.py, plus a
customer still on its old shard while it moves).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import yaml

from ..errors import UsageError
from ..model.common import is_dns_label

TENANT = "customer_id"
NOBODY = "a^"  # RE2: a regex no label value matches (an empty shard keeps nothing)

Group = dict[str, Any]


def parse_targets(text: str, source: str) -> list[Group]:
    """A file_sd list (JSON or YAML: `[{targets: [...], labels: {...}}]`); UsageError
    naming the group and field otherwise."""
    try:
        data = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: not YAML/JSON: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, list):
        raise UsageError(f"{source}: a file_sd list of target groups is a list", "see file_sd")
    groups: list[Group] = []
    for i, group in enumerate(data):
        where = f"{source}: [{i}]"
        if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
            raise UsageError(f"{where}.targets: a list of host:port is required")
        if not all(isinstance(t, str) for t in group["targets"]):
            raise UsageError(f"{where}.targets: every target is a host:port string")
        labels = group.get("labels") or {}
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise UsageError(f"{where}.labels: a map of label names to string values")
        groups.append({"targets": list(group["targets"]), "labels": dict(labels)})
    return groups


def split_targets(
    groups: Iterable[Group], holders: Callable[[str], Iterable[str]], shards: Sequence[str]
) -> tuple[dict[str, list[Group]], int]:
    """shard → the groups of the customers it holds (`holders(customer)`: every shard
    with that customer's rules, two while it moves), every shard listed; and how many
    groups carry no customer id as `customer_id` (none, or a value no customer id can be:
    left out; shared targets are split by `keep_relabel` instead)."""
    out: dict[str, list[Group]] = {s: [] for s in shards}
    unowned = 0
    for group in groups:
        customer = group.get("labels", {}).get(TENANT)
        if not isinstance(customer, str) or not is_dns_label(customer):
            unowned += 1  # no customer has that id (nor an empty one)
            continue
        for shard in holders(customer):
            out.setdefault(shard, []).append(group)
    return out, unowned


def keep_relabel(customers: Iterable[str]) -> dict[str, Any]:
    """One relabel rule keeping only these customers' series or targets. Customer ids are
    DNS labels (no regex metacharacter but `-`, literal outside a class); Prometheus anchors
    the regex, so `acme` never keeps `acme-eu`."""
    ids = sorted(set(customers))
    bad = [c for c in ids if not is_dns_label(c)]
    if bad:  # a regex metacharacter would keep other customers' series: never written
        raise ValueError(f"not customer ids: {', '.join(bad)}")
    return {
        "source_labels": [TENANT],
        "regex": "|".join(ids) if ids else NOBODY,
        "action": "keep",
    }


def targets_json(groups: list[Group]) -> str:
    """A shard's file_sd file: stable JSON (written only when it changes)."""
    return json.dumps(groups, indent=1, sort_keys=True) + "\n"

"""Which shard evaluates a customer's rules: rendezvous (highest-random-weight) hashing.

Every customer scores every shard name with a hash of (shard, customer) and goes to the
highest score. Adding a shard to n moves only the customers the new shard now wins (about
1/(n+1) of them); removing one moves only that shard's own customers — modulo hashing would
move almost all of them. Pins in the platform config override the hash for customers that
must stay put. Pure: the same ids and names give the same placement on every process and
after every restart (a cryptographic hash, not Python's salted `hash`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .platform import PrometheusSettings


def score(shard: str, customer_id: str) -> int:
    """The weight of `shard` for `customer_id`: 64 bits of SHA-256 over both names (the
    separator cannot occur in a shard name, so no two pairs share an input)."""
    digest = hashlib.sha256(f"{shard}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rendezvous(customer_id: str, shards: Sequence[str]) -> str:
    """The shard with the highest score (ties, never seen with 64 bits, go to the name)."""
    if not shards:
        raise ValueError("no shards to place on")
    return max(shards, key=lambda s: (score(s, customer_id), s))


def place(customer_id: str, settings: PrometheusSettings) -> str | None:
    """The shard of `customer_id`: its pin, else rendezvous; None when not sharded."""
    names = settings.shard_names()
    if not names:
        return None
    pinned = settings.pins.get(customer_id)
    return pinned if pinned in names else rendezvous(customer_id, names)


def placement(customers: Iterable[str], settings: PrometheusSettings) -> dict[str, str]:
    """customer id → shard, for every customer (empty when not sharded)."""
    if not settings.shards:
        return {}
    return {c: place(c, settings) or "" for c in customers}


@dataclass(frozen=True)
class Move:
    customer_id: str
    source: str | None  # None: was not sharded
    target: str | None  # None: no longer sharded


def moves(
    customers: Iterable[str], before: PrometheusSettings, after: PrometheusSettings
) -> list[Move]:
    """The customers whose shard differs between two shard lists, sorted by id."""
    found: list[Move] = []
    for c in sorted(set(customers)):
        old, new = place(c, before), place(c, after)
        if old != new:
            found.append(Move(c, old, new))
    return found


def counts(assigned: Mapping[str, str], settings: PrometheusSettings) -> dict[str, int]:
    """Customers per shard, every shard listed (an empty shard shows as 0)."""
    out = dict.fromkeys(settings.shard_names(), 0)
    for shard in assigned.values():
        out[shard] = out.get(shard, 0) + 1
    return out

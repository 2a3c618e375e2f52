"""Shards evaluating customers their directory does not hold (the sharded files sink).

Two causes look alike from outside: a crash between removing a moved customer's old copy
and reloading that shard (it evaluates the customer from memory: a reload cures it), and a
shard whose Prometheus `rule_files` reach another shard's directory (a reload changes
nothing: every such customer is evaluated twice, for as long as the configuration stays).
So a shard found with strays is reloaded, then asked again (sinks/sharded.py). Also
whether a former shard's server is gone (nothing left there to unload)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from .loaded_query import QueryFailed, loaded_rules
from .sharded_layout import customer_of

MAX_PARALLEL = 16


def find_strays(
    urls: Mapping[str, str], held: Mapping[str, set[str | None]]
) -> dict[str, list[str]]:
    """shard → the customers it has loaded whose rules its directory does not hold (`held`:
    customer → shards holding it). Asked side by side; a shard that does not answer has
    none (when it starts, it reads its directory)."""

    def strays(shard: str) -> list[str]:
        try:
            files = loaded_rules(urls[shard])
        except QueryFailed:
            return []
        loaded = {customer_of(f"rules/{name}") for name in files if files[name]}
        return sorted(c for c in loaded if c is not None and c in held and shard not in held[c])

    names = sorted(urls)
    with ThreadPoolExecutor(max_workers=max(1, min(len(names), MAX_PARALLEL))) as pool:
        found = dict(zip(names, pool.map(strays, names), strict=True))
    return {shard: customers for shard, customers in found.items() if customers}


def gone(url: str) -> bool:
    """Nothing listens at `url` any more (connection refused, or the host name no longer
    resolves), as opposed to a server that is there but failing or slow."""
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "", port), timeout=5):
            return False
    except (ConnectionRefusedError, socket.gaierror):
        return True
    except (OSError, ValueError):
        return False

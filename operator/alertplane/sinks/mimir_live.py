"""Whether Mimir serves what was pushed for a tenant (pure): the ruler's loaded groups
against the namespaces pushed, the Alertmanager configuration's print against the one
pushed. The ruler re-prints queries from their syntax tree like Prometheus, so the
comparison is sinks/loaded.py's, one namespace at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..render.mimir import Namespaces, namespace_text
from .base import PENDING, Liveness
from .loaded import rules_stale


def rules_liveness(want: Namespaces, loaded: Sequence[Mapping[str, Any]]) -> Liveness:
    """Live when the ruler evaluates exactly the pushed groups of alertplane's namespaces
    (`loaded`: the rules API's groups of those namespaces, `file` naming the namespace)."""
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for group in loaded:
        by_namespace.setdefault(f"{group.get('file')}.yml", []).append(group)
    for ns in sorted(set(want) | {k.removesuffix(".yml") for k in by_namespace}):
        groups = want.get(ns)
        stale = rules_stale(ns, namespace_text(groups) if groups else None, by_namespace)
        if stale is not None:
            detail = stale.detail.replace(f"{ns}.yml", f"namespace {ns}")
            return Liveness(
                False, PENDING, f"pushed to Mimir; its ruler has not loaded it yet: {detail}"
            )
    return Liveness(True, "Reloaded", "")


def am_liveness(want: str | None, held: str | None) -> Liveness:
    """Live when Mimir answers the pushed configuration (by its print; None: none)."""
    if want == held:
        return Liveness(True, "Reloaded", "")
    return Liveness(False, PENDING, "pushed to Mimir; it does not answer the new configuration yet")

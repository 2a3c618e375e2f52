"""Sharded rule objects for the cluster sinks (ConfigMap, prometheus-operator).

With `prometheus.shards` in the platform config every customer's rule object carries
`alertplane.io/shard: <shard>` (render/placement.py decides which) and its name ends in
`.<shard>` (`alertplane-rules-acme.b`, `alertplane-acme.b`): a shard's Prometheus (its
sidecar's label selector, or its `Prometheus` object's `ruleSelector`) loads exactly its
customers. Names hold the shard because a moving customer has two objects for a while: a
customer id and a shard name are DNS labels, so no sharded name is another's, nor an
unsharded one (which has no dot).

Moves (the shard list changed, a pin was added, or sharding was turned on) never leave a
customer's rules loaded nowhere: the object on the new shard is written, the copy on the old
one stays until the new one is found live (`liveness`, asked by the sink), and only
then is it removed (`settle`, on the next pass: the customer stays `Pending`, saying so,
until then, so the reconciler comes back for it). Alertmanager de-duplicates the alerts of
the brief overlap. The same protocol as the files sink's (sinks/sharded_moves.py), whose
`MoveTracker` logs and audits each finished move here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..render.placement import place
from ..render.platform import PrometheusSettings
from .base import PENDING, PROMETHEUS, Liveness, Targets
from .kubeobjects import CUSTOMER_LABEL, RULES_LABEL, ManagedObjects, customer_of_rules
from .sharded_moves import MoveTracker

SHARD_LABEL = "alertplane.io/shard"


def shard_target(shard: str | None) -> str:
    """The reload/liveness target of a shard (`prometheus` when not sharded)."""
    return PROMETHEUS if shard is None else f"{PROMETHEUS}/{shard}"


class Placement:
    """Where a customer's rule object goes under the platform's shard list."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self._cache: dict[str, str | None] = {}  # placement is pure: computed once per id

    @property
    def sharded(self) -> bool:
        return bool(self.settings.shards)

    def shard_of(self, customer_id: str) -> str | None:
        if customer_id not in self._cache:
            self._cache[customer_id] = place(customer_id, self.settings)
        return self._cache[customer_id]

    def name(self, base: str, customer_id: str) -> str:
        """The object name of `customer_id` whose unsharded name is `base`."""
        shard = self.shard_of(customer_id)
        return base if shard is None else f"{base}.{shard}"

    def labels(self, customer_id: str) -> dict[str, str]:
        shard = self.shard_of(customer_id)
        return {} if shard is None else {SHARD_LABEL: shard}

    def describe(self, customer_id: str) -> str:
        """`(shard b)` for a location, "" when not sharded."""
        shard = self.shard_of(customer_id)
        return "" if shard is None else f" (shard {shard})"


class Copies:
    """Each customer's rule objects, to find the copies left on a shard it no longer
    belongs to, and remove them once its object on the new shard is live."""

    def __init__(
        self,
        objects: ManagedObjects,
        placement: Placement,
        base_name: Callable[[str], str],
        removed: Callable[[str | None], None] = lambda _shard: None,
    ) -> None:
        """`base_name`: a customer's unsharded object name; `removed(shard)`: called after a
        copy on `shard` is deleted (the ConfigMap sink reloads that shard)."""
        self.objects = objects
        self.placement = placement
        self.base_name = base_name
        self.removed = removed
        self._by_customer: dict[str, set[str]] = {}
        self._live: set[str] = set()  # customers whose current object was found live
        self.moves = MoveTracker()  # only its audit of finished moves (`on_moved`) is used

    def index(self) -> None:
        """Read again which rule objects each customer has (after the objects were loaded)."""
        self._by_customer = {}
        for name, (labels, _) in self.objects.known.items():
            cid = labels.get(CUSTOMER_LABEL)
            if cid and labels.get(RULES_LABEL) == "true":
                self._by_customer.setdefault(cid, set()).add(name)

    def customers(self) -> list[str]:
        return sorted(self._by_customer)

    def current(self, customer_id: str) -> str:
        return self.placement.name(self.base_name(customer_id), customer_id)

    def stale(self, customer_id: str) -> list[str]:
        """The customer's objects other than the one where it belongs now."""
        here = self.current(customer_id)
        return sorted(n for n in self._by_customer.get(customer_id, ()) if n != here)

    def shard_of_object(self, name: str) -> str | None:
        return self.objects.labels_of(name).get(SHARD_LABEL)

    def put(self, customer_id: str, labels: dict[str, str], content: Mapping[str, Any]) -> bool:
        """Write the customer's current object; a rewrite must be found live again before
        a copy elsewhere goes."""
        name = self.current(customer_id)
        wrote = self.objects.put(name, labels, dict(content))
        if wrote:
            self._live.discard(customer_id)
        self._by_customer.setdefault(customer_id, set()).add(name)
        return wrote

    def remove_all(self, customer_id: str) -> bool:
        """The customer's output is gone: every object of it goes, wherever it is."""
        wrote = False
        for name in sorted(self._by_customer.pop(customer_id, set())):
            shard = self.shard_of_object(name) if name in self.objects.known else None
            if self.objects.remove(name):
                wrote = True
                self.removed(shard)
        self._live.discard(customer_id)
        return wrote

    def settle(self, customer_id: str) -> list[str]:
        """Remove the customer's copies on other shards when its current object was found
        live since it was last written; the shards they were on."""
        stale = self.stale(customer_id)
        if not stale or customer_id not in self._live:
            return []
        left: list[str | None] = []
        for name in stale:
            shard = self.shard_of_object(name)
            self.objects.remove(name)
            self._by_customer[customer_id].discard(name)
            self.removed(shard)
            left.append(shard)
        # Logged, and audited by the operator's database mirror (`moves.on_moved`, k8s/leading.py).
        self.moves.finish(customer_id, self.placement.shard_of(customer_id) or "unsharded", left)
        return [s or "unsharded" for s in left]

    def liveness(self, customer_id: str, live: Liveness) -> Liveness:
        """The customer's liveness given its current object's (`live`): while a copy is
        left elsewhere the move is not done, so never Synced then (the reconciler comes
        back, and `settle` removes the copy on that pass)."""
        stale = self.stale(customer_id)
        if not stale:
            return live
        old = ", ".join(sorted({self.shard_of_object(n) or "(unsharded)" for n in stale}))
        new = self.placement.shard_of(customer_id) or "(unsharded)"
        if live.synced:
            self._live.add(customer_id)
            return Liveness(
                False, PENDING, f"moving from shard {old} to shard {new}: live on {new}; "
                f"removing it from {old}"
            )  # fmt: skip
        self._live.discard(customer_id)
        # Changed during the move: the copy it leaves has the rules before the change.
        content = self.objects.known.get(self.current(customer_id), ({}, {}))[1]
        older = any(self.objects.known.get(n, ({}, {}))[1] != content for n in stale)
        what = "its previous rules still" if older else "still"
        said = f"moving from shard {old} to shard {new} ({what} live on {old} until {new} has it)"
        return Liveness(False, live.reason, f"{said}: {live.message}" if live.message else said)


def targets_of(placement: Placement, fallback: Targets) -> Targets:
    """Which targets an output reaches: a customer's rules its shard (`prometheus/<shard>`),
    anything else what `fallback` says (alertmanager.yml: the Alertmanager(s))."""
    if not placement.sharded:
        return fallback

    def targets(output: str) -> tuple[str, ...]:
        cid = customer_of_rules(output)
        if cid is None:
            return fallback(output)
        return (shard_target(placement.shard_of(cid)),)

    return targets

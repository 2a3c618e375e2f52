"""The sink protocol: what the reconciler needs from wherever rendered output goes.

A sync hands the sink the outputs that changed (`rules/<customerId>.yml`, `alertmanager.yml`;
None deletes) and every live customer's receivers; the sink checks them with the one output
check (validate/output.py), writes what differs, makes it live and says, per output, whether
the running system accepted it. The reconciler never asks which sink it has: files, ConfigMaps,
prometheus-operator objects, and the ones to come (sharded Prometheus, HA Alertmanager,
Mimir), are the same to it. Outputs are named by path; which running system (a "target":
`prometheus`, `alertmanager`, later a shard or a replica) an output reaches is the sink's
business, so targets are plain names and liveness is asked per output.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import AlertplaneError, Problem
from ..model import CustomerReceiver, CustomerReceiverSpec

PROMETHEUS, ALERTMANAGER = "prometheus", "alertmanager"
PENDING = "Pending"  # the Liveness reason the reconciler re-checks (sync.py)

# Which targets an output reaches: `prometheus`, `alertmanager` (one of each), or one
# shard (`prometheus/<shard>`, render/placement.py) or every replica (`alertmanager/<name>`).
Targets = Callable[[str], tuple[str, ...]]
Files = Mapping[str, str | None]  # output path → text; None: the output goes away
# customer id → its live receivers as (secret folder, spec); render/alertmanager.py
Receivers = Mapping[str, list[tuple[str, CustomerReceiverSpec]]]


class SinkError(AlertplaneError):
    """Writing the output failed (the reconciler marks the sync WriteFailed, retries)."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What one target answered when asked to load the written output."""

    ok: bool
    attempts: int
    message: str = ""
    in_flight: bool = False  # asked, not answered yet: Pending, not failed (reload_flight.py)


@dataclass(frozen=True)
class Liveness:
    """Whether an output is live in the running system, for its objects' Synced condition.

    `reason`: Reloaded (the target loaded it), Written (written; nobody to ask), Pending
    (written, not yet loaded: the reconciler asks again a little later, `RECHECK`),
    ReloadFailed (the target refused it or did not answer), Rejected (the system that runs
    it refused this customer's part, e.g. prometheus-operator; `message` says why)."""

    synced: bool
    reason: str
    message: str = ""


def kind_of(target: str) -> str:
    """`prometheus` or `alertmanager`, for a target name (`prometheus/<shard>` too)."""
    return target.split("/", 1)[0]


# The worst first: one target's answer decides for an output all its targets hold.
_RANK = {"ReloadFailed": 0, "Rejected": 0, PENDING: 1, "Written": 3, "Reloaded": 2}


def combine(per_target: Mapping[str, Liveness]) -> Liveness:
    """One output's liveness from each of its targets': live only when every target has it;
    otherwise the worst target's answer, named when there are several (`alertmanager/am-1:
    ...`), so a status says which replica or shard is missing."""
    if not per_target:
        return Liveness(True, "Written", "written; nothing loads it")
    named = len(per_target) > 1
    target, worst = min(per_target.items(), key=lambda kv: (_RANK.get(kv[1].reason, 0), kv[0]))
    if worst.synced or not named:
        return worst
    others = [t for t, live in per_target.items() if not live.synced and t != target]
    also = f" (also not live on {', '.join(sorted(others))})" if others else ""
    return Liveness(False, worst.reason, f"{target}: {worst.message}{also}")


class Sink(Protocol):
    """Where rendered output goes. Every sink implements all of it."""

    name: str  # files, configmap, prometheus-operator
    # What Synced/Written means in this sink, for the status message (None: the default).
    written_message: str | None

    def start(self) -> None:
        """Read what exists before the first sync (outputs written by an earlier run)."""

    def refresh(self) -> None:
        """Read again what exists (the periodic resync compares the desired output with it)."""

    def generated_outputs(self) -> list[str]:
        """The rule outputs (`rules/<customerId>.yml`) that exist and are alertplane's: the
        first sync removes those of customers that no longer exist."""
        ...

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        """Check (validate/output.py), then write, the outputs that differ; return the
        paths whose output changed. Raises SinkError or OutputRejected, writing nothing
        the check refused."""
        ...

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        """Have the running systems load what was written (and what an earlier pass left
        pending); what each target asked answered, by target name."""
        ...

    def liveness(self, output: str, customer_id: str) -> Liveness:
        """After `make_live`: whether `customer_id`'s part of `output` is live (one output,
        `alertmanager.yml`, holds every customer's routes; a system such as
        prometheus-operator may accept some customers' parts and refuse others')."""
        ...

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        """Problems only this sink can see in a receiver (a referenced Secret key that does
        not exist, for prometheus-operator); they make the object Invalid."""
        ...

    def location(self, output: str, customer_id: str) -> str:
        """Where `output` of `customer_id` is, for `status.renderedTo`."""
        ...


class KubeApi(Protocol):
    """The Kubernetes API calls the cluster sinks make (the operator's client)."""

    def get(self, path: str) -> dict[str, Any] | None: ...
    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]: ...
    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, path: str) -> bool: ...

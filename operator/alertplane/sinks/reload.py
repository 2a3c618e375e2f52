"""Hot reload of Prometheus and Alertmanager via their lifecycle endpoint.

Both answer `POST /-/reload` only after the new configuration is loaded (or rejected): a
200 means the files they read are live, a 5xx that the old configuration stays live.
Whether the files they read are the ones written is asked after the reload
(sinks/loaded_query.py: a mounted ConfigMap reaches the pod late).
`Reloader` is how the files and ConfigMap sinks (and the prometheus-operator sink, when
URLs are given) make output live and say whether it is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from ..render import ALERTMANAGER_PATH
from . import reload_flight
from .base import (
    ALERTMANAGER,
    PENDING,
    PROMETHEUS,
    Liveness,
    ReloadOutcome,
    Targets,
    combine,
)

__all__ = ["ReloadOutcome", "Reloader", "reload", "single_targets", "target_of"]


WAIT_S = 10.0  # how long one pass waits for a reload's answer before saying "reloading"


def reload(
    base_url: str, attempts: int = 4, backoff_s: float = 0.1, timeout_s: float | None = None
) -> ReloadOutcome:
    """POST <base_url>/-/reload, waiting at most `timeout_s` (WAIT_S) for the answer.

    A reload is never stacked on one that runs (sinks/reload_flight.py): Prometheus cannot
    cancel one, and each POST is another full reload. Not answered within `timeout_s`, the
    request stays open and the outcome is `in_flight` ("reloading for N s, took M s last
    time"); the next call waits on that same request. Asked again only when no reload can
    have started: no connection, or a proxy's 502/503/504 (with exponential backoff)."""
    wait = WAIT_S if timeout_s is None else timeout_s
    return reload_flight.reload(base_url.rstrip("/") + "/-/reload", attempts, backoff_s, wait)


def target_of(output: str) -> str:
    """The running system an output is loaded by, unsharded: rule files by Prometheus, the
    rest (alertmanager.yml) by Alertmanager."""
    return ALERTMANAGER if output == ALERTMANAGER_PATH else PROMETHEUS


def single_targets(output: str) -> tuple[str, ...]:
    """One Prometheus and one Alertmanager: the default `Targets`."""
    return (target_of(output),)


def _loaded(output: str) -> bool:
    """Whether a target loads the output (rule files and the Alertmanager config do)."""
    return output.startswith("rules/") or output == ALERTMANAGER_PATH


class Reloader:
    """Reloads the targets whose output changed, until each has answered 200.

    Targets are names (sinks/base.py `kind_of`): `prometheus`, `alertmanager`, or one shard
    (`prometheus/<shard>`) or replica (`alertmanager/<replica>`); `targets` says which an
    output reaches (a sharded rule file: its shard; alertmanager.yml: every replica). A target
    without a URL has nobody to ask: its output counts as live once written. A target whose
    reload failed stays pending and is asked again on the next pass."""

    def __init__(
        self,
        urls: Callable[[], Mapping[str, str | None]],
        targets: Targets = single_targets,
    ) -> None:
        """`urls`: target → reload URL (None: nobody to ask), read on every pass (the
        standalone reconciler's settings may be given URLs after it is built)."""
        self.urls = urls
        self.targets = targets
        self.pending: set[str] = set()
        self.again: set[str] = set()  # answered 200, yet still has older files (reload_again)
        self.outcomes: dict[str, ReloadOutcome] = {}  # of the last pass

    def reload_again(self, target: str) -> None:
        """Reload `target` on the next pass although nothing new is written: it answered
        200 but has not loaded the written files yet (sinks/loaded_query.py; the kubelet
        may have refreshed them since). At most one reload per target per pass, and the
        reconciler's re-checks of Pending output back off to one per 10 s: no storm."""
        self.again.add(target)

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        for rel in written:
            if _loaded(rel):
                self.pending |= set(self.targets(rel))
        self.pending |= self.again
        self.again = set()
        self.outcomes = {}
        urls = self.urls()
        for target in sorted(self.pending):
            url = urls.get(target)
            if url is None:
                self.pending.discard(target)
                continue
            outcome = reload(url)
            self.outcomes[target] = outcome
            if outcome.ok:
                self.pending.discard(target)
        return dict(self.outcomes)

    def target_liveness(self, target: str) -> Liveness:
        """Whether `target` loaded what was written, as far as its reload tells."""
        outcome = self.outcomes.get(target)
        if outcome is not None and outcome.in_flight:  # Prometheus still reloading
            return Liveness(False, PENDING, outcome.message)
        if outcome is not None and not outcome.ok:
            return Liveness(False, "ReloadFailed", outcome.message)
        if target in self.pending:
            return Liveness(False, PENDING, "waiting for a successful reload")
        if self.urls().get(target) is None:
            return Liveness(True, "Written", "written; no reload URL configured")
        return Liveness(True, "Reloaded", "")

    def liveness(self, output: str) -> Liveness:
        """Every target of `output` (sinks/base.py `combine`)."""
        return combine({t: self.target_liveness(t) for t in self.targets(output)})

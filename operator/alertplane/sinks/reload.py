"""Hot reload of Prometheus and Alertmanager via their lifecycle endpoint.

Both answer `POST /-/reload` only after the new configuration is loaded (or rejected): a
200 means the files they read are live, a 5xx that the old configuration stays live.
Whether the files they read are the ones written is asked after the reload
(sinks/loaded_query.py: a mounted ConfigMap reaches the pod late).
`Reloader` is how the files and ConfigMap sinks (and the prometheus-operator sink, when
URLs are given) make output live and say whether it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from ..render import ALERTMANAGER_PATH
from .base import (
    ALERTMANAGER,
    PENDING,
    PROMETHEUS,
    Liveness,
    ReloadOutcome,
    Targets,
    combine,
    is_replica,
)
from .reload_replicas import ATTEMPTS, ATTEMPTS_DOWN, WAIT_DOWN_S, WAIT_S, Background

# A replica that did not answer its reload: down, not refusing (sinks/replicas.py).
DOWN = "down, reloaded again until it answers"

__all__ = ["ReloadOutcome", "Reloader", "reload", "single_targets", "target_of"]


def reload(
    base_url: str, attempts: int = 4, backoff_s: float = 0.1, timeout_s: float = 30.0
) -> ReloadOutcome:
    """POST <base_url>/-/reload with exponential backoff on connection errors and 5xx."""
    # Imported here: urllib.request pulls in http.client and the e-mail parser, about
    # 1.7% of a small `alertplane render`'s instructions, and render/validate never reload.
    import urllib.error
    import urllib.request

    url = base_url.rstrip("/") + "/-/reload"
    message, answered = "", True
    for attempt in range(1, attempts + 1):
        try:
            req = urllib.request.Request(url, method="POST", data=b"")
            with urllib.request.urlopen(req, timeout=timeout_s):
                return ReloadOutcome(True, attempt)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace").strip()
            message, answered = f"{url}: HTTP {exc.code}: {body or exc.reason}", True
            if exc.code < 500:
                return ReloadOutcome(False, attempt, message)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            message, answered = f"{url}: {reason}", False
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return ReloadOutcome(False, attempts, message, answered)


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
        self.down: set[str] = set()  # replicas whose last reload got no answer
        self.background = Background()

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
        todo = {t: url for t in sorted(self.pending) if (url := urls.get(t)) is not None}
        self.pending &= set(todo)  # a target without a URL has nobody to ask
        for target, url in todo.items():  # every replica at once, in the background
            if is_replica(target):
                attempts = ATTEMPTS_DOWN if target in self.down else ATTEMPTS
                self.background.start(target, url, reload, attempts)
        for target, url in todo.items():
            outcome = self._reload(target, url)
            self.outcomes[target] = outcome
            if outcome.ok:
                self.pending.discard(target)
        return dict(self.outcomes)

    def _reload(self, target: str, url: str) -> ReloadOutcome:
        """Inline; a replica's answer from its background reload (sinks/reload_replicas.py),
        so a hanging replica never holds the pass for its timeouts."""
        if not is_replica(target):
            return reload(url)
        wait_s = WAIT_DOWN_S if target in self.down else WAIT_S
        outcome = self.background.answer(target, url, wait_s)
        if outcome.answered:
            self.down.discard(target)
        else:
            self.down.add(target)
        return outcome

    def target_liveness(self, target: str) -> Liveness:
        """Whether `target` loaded what was written, as far as its reload tells."""
        outcome = self.outcomes.get(target)
        if outcome is not None and not outcome.ok:
            if not outcome.answered and is_replica(target):
                return Liveness(False, PENDING, f"{DOWN}: {outcome.message}")
            return Liveness(False, "ReloadFailed", outcome.message)
        if target in self.pending:
            return Liveness(False, PENDING, "waiting for a successful reload")
        if self.urls().get(target) is None:
            return Liveness(True, "Written", "written; no reload URL configured")
        return Liveness(True, "Reloaded", "")

    def liveness(self, output: str) -> Liveness:
        """Every target of `output` (sinks/base.py `combine`)."""
        return combine({t: self.target_liveness(t) for t in self.targets(output)})

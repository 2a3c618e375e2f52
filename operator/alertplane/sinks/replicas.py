"""HA Alertmanager: the replicas of `alertmanager.replicas` as reload targets.

An Alertmanager gossip cluster (`--cluster.peer`) shares silences and the notification
log, never its configuration: every replica reads its own copy. So the one
`alertmanager.yml` (a file they all read, or one ConfigMap they all mount) reaches every
replica, each is reloaded (`alertmanager/<replica>`), and the output is live only when every
replica reports it (sinks/base.py `combine`, sinks/loaded_query.py). A replica that does not
answer at all is down, not refusing: while it is down its output stays `Pending` naming it
(the others serve, and gossip gives it the silences and notification log when it returns);
it is reloaded again on each re-check, and the object converges once it answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import UsageError
from ..render import ALERTMANAGER_PATH
from ..render.platform import PlatformConfig
from .base import ALERTMANAGER, Targets
from .reload import single_targets

Urls = Callable[[], Mapping[str, str | None]]


def replica_targets(platform: PlatformConfig) -> tuple[str, ...]:
    """`alertmanager/<name>` per replica; none configured: the single `alertmanager`."""
    names = [r.name for r in platform.alertmanager.replicas]
    return tuple(f"{ALERTMANAGER}/{n}" for n in names) or (ALERTMANAGER,)


def with_replicas(platform: PlatformConfig, inner: Targets = single_targets) -> Targets:
    """`inner`, except that the Alertmanager configuration reaches every replica."""
    replicas = replica_targets(platform)
    if replicas == (ALERTMANAGER,):
        return inner

    def targets(output: str) -> tuple[str, ...]:
        if output == ALERTMANAGER_PATH:
            return replicas
        return inner(output)

    return targets


def with_replica_urls(platform: PlatformConfig, inner: Urls) -> Urls:
    """`inner`'s URLs plus each replica's, from the platform config (read once: the
    platform config does not change while the process runs)."""
    urls = {f"{ALERTMANAGER}/{r.name}": r.url for r in platform.alertmanager.replicas}
    if not urls:
        return inner
    return lambda: {**inner(), **urls}


def check_single_url(platform: PlatformConfig, alertmanager_url: str | None) -> None:
    """`--alertmanager-url` names the one unreplicated Alertmanager: with replicas in the
    platform config it would be a second, conflicting answer (which one is reloaded? which
    one does the firing view read?), so it is refused instead of silently ignored."""
    if alertmanager_url and platform.alertmanager.replicas:
        names = ", ".join(r.name for r in platform.alertmanager.replicas)
        raise UsageError(
            f"--alertmanager-url {alertmanager_url}: the platform config names Alertmanager "
            f"replicas ({names}) at alertmanager.replicas",
            "leave --alertmanager-url out; give each replica's url in alertmanager.replicas",
        )

"""The one place a sink is built from settings (`serve`, the operator, the reconciler's
default): callers name the kind, never construct a sink class themselves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..render.platform import PlatformConfig
from ..render.promop_channels import check_platform
from .base import ALERTMANAGER, PROMETHEUS, KubeApi, Sink
from .configmap import ConfigMapSink
from .files import FileSink
from .kubeshards import Placement, shard_target, targets_of
from .promop import PrometheusOperatorSink
from .promop_shards import ShardObjects, parse_alertmanager, parse_shard_prometheus
from .reload import Reloader, single_targets
from .sharded import ShardedFileSink

FILES, CONFIGMAP, PROMETHEUS_OPERATOR = "files", "configmap", "prometheus-operator"
KINDS = (FILES, CONFIGMAP, PROMETHEUS_OPERATOR)


@dataclass(frozen=True)
class SinkSettings:
    kind: str = FILES
    out_dir: Path | None = None  # files: the rule/Alertmanager directory
    namespace: str = "monitoring"  # the cluster sinks: where their objects go
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    prometheus_url: str | None = None  # None: nobody to reload; written counts as live
    alertmanager_url: str | None = None
    # prometheus-operator: the objects whose state decides liveness (`[NS/]NAME`; NAME, in
    # `namespace`), as the flags give them; none: written counts as live.
    promop_prometheus: tuple[str, ...] = ()
    promop_alertmanager: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise UsageError when no sink can be built from these settings."""
        if self.kind not in KINDS:
            raise UsageError(f"unknown sink {self.kind!r}", f"use one of {', '.join(KINDS)}")
        if self.kind == FILES and self.out_dir is None:
            raise UsageError("--sink files needs --out DIR", "give the rule/Alertmanager directory")
        if self.kind == PROMETHEUS_OPERATOR:
            check_platform(self.platform)  # what an AlertmanagerConfig cannot say
        if self.kind != PROMETHEUS_OPERATOR and (
            self.promop_prometheus or self.promop_alertmanager
        ):
            raise UsageError(
                "--promop-prometheus/--promop-alertmanager need --sink prometheus-operator",
                "they name the prometheus-operator objects whose state makes output live",
            )
        self.promop_targets()
        if self.platform.prometheus.shards and self.prometheus_url:
            raise UsageError(
                "--prometheus-url names the one Prometheus of an unsharded platform, and the "
                "platform config lists prometheus.shards",
                "give each shard's URL as prometheus.shards[].url (docs/sharding.md) and "
                "drop --prometheus-url",
            )

    def promop_targets(self) -> tuple[list[tuple[str, str]], list[str], ShardObjects]:
        """The named Prometheus ((ns, name); by shard when sharded) and Alertmanager (name)
        objects; UsageError on a name that cannot be one or does not fit the shards."""
        plain, by_shard = parse_shard_prometheus(
            self.promop_prometheus, self.namespace, self.platform.prometheus.shard_names()
        )
        return plain, [parse_alertmanager(v) for v in self.promop_alertmanager], by_shard


def build_sink(
    settings: SinkSettings,
    client: KubeApi | None = None,
    urls: Callable[[], Mapping[str, str | None]] | None = None,
) -> Sink:
    """The sink `settings` name; the cluster sinks need the operator's `client`. Builds,
    reads nothing: the caller starts it (`Sink.start`). `urls` reads the reload URLs on
    every pass instead of taking them from `settings` once."""
    fixed = {PROMETHEUS: settings.prometheus_url, ALERTMANAGER: settings.alertmanager_url}
    shards = settings.platform.prometheus
    fixed.update({shard_target(s.name): s.url for s in [*shards.retiring, *shards.shards]})
    placement = Placement(shards)
    cluster_targets = targets_of(placement, single_targets)
    reloader = Reloader(
        urls or (lambda: fixed),
        single_targets if settings.kind == FILES else cluster_targets,
    )
    if settings.kind == FILES:
        if settings.out_dir is None:
            raise UsageError("--sink files needs --out DIR", "give the rule/Alertmanager directory")
        if settings.platform.prometheus.shards:  # a directory and a Prometheus per shard
            return ShardedFileSink(
                settings.out_dir, settings.platform.prometheus, urls or (lambda: fixed)
            )
        return FileSink(settings.out_dir, reloader)
    if settings.kind not in KINDS:
        raise UsageError(f"unknown sink {settings.kind!r}", f"use one of {', '.join(KINDS)}")
    if client is None:
        raise UsageError(f"the {settings.kind} sink writes to a cluster: it needs a client")
    if settings.kind == CONFIGMAP:
        return ConfigMapSink(client, settings.namespace, reloader, placement)
    prometheus, alertmanager, by_shard = settings.promop_targets()
    return PrometheusOperatorSink(
        client, settings.namespace, settings.platform, reloader, prometheus, alertmanager, by_shard
    )

"""The one place a sink is built from settings (`serve`, the operator, the reconciler's
default): callers name the kind, never construct a sink class themselves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..render.mimir import Limits, file_fields
from ..render.platform import PlatformConfig
from ..render.promop_channels import check_platform
from .base import ALERTMANAGER, PROMETHEUS, KubeApi, Sink
from .configmap import ConfigMapSink
from .files import FileSink
from .kubeshards import Placement, shard_target, targets_of
from .mimir import MimirSink
from .mimir_client import MimirClient
from .mimir_secrets import file_lookup, kube_lookup, kube_secret_problems
from .promop import PrometheusOperatorSink
from .promop_shards import ShardObjects, parse_alertmanager, parse_shard_prometheus
from .reload import Reloader
from .replicas import check_single_url, with_replica_urls, with_replicas
from .sharded import ShardedFileSink

FILES, CONFIGMAP, PROMETHEUS_OPERATOR, MIMIR = "files", "configmap", "prometheus-operator", "mimir"
KINDS = (FILES, CONFIGMAP, PROMETHEUS_OPERATOR, MIMIR)


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
    # mimir: its base URL (each customer a tenant), the gateway's bearer token file, and
    # the per-tenant limits Mimir enforces (docs/mimir.md)
    mimir_url: str | None = None
    mimir_token_file: str | None = None
    mimir_limits: Limits = field(default_factory=Limits)

    def check(self) -> None:
        """Raise UsageError when no sink can be built from these settings."""
        if self.kind not in KINDS:
            raise UsageError(f"unknown sink {self.kind!r}", f"use one of {', '.join(KINDS)}")
        if self.kind == FILES and self.out_dir is None:
            raise UsageError("--sink files needs --out DIR", "give the rule/Alertmanager directory")
        if self.kind == PROMETHEUS_OPERATOR:
            check_platform(self.platform)  # what an AlertmanagerConfig cannot say
        if self.kind == MIMIR:
            self._check_mimir()
        elif self.mimir_url:
            raise UsageError("--mimir-url needs --sink mimir", "or leave it out")
        if self.kind != PROMETHEUS_OPERATOR and (
            self.promop_prometheus or self.promop_alertmanager
        ):
            raise UsageError(
                "--promop-prometheus/--promop-alertmanager need --sink prometheus-operator",
                "they name the prometheus-operator objects whose state makes output live",
            )
        self.promop_targets()
        check_single_url(self.platform, self.alertmanager_url)
        if self.platform.prometheus.shards and self.prometheus_url:
            raise UsageError(
                "--prometheus-url names the one Prometheus of an unsharded platform, and the "
                "platform config lists prometheus.shards",
                "give each shard's URL as prometheus.shards[].url (docs/sharding.md) and "
                "drop --prometheus-url",
            )

    def _check_mimir(self) -> None:
        if not self.mimir_url:
            raise UsageError("--sink mimir needs --mimir-url URL", "give Mimir's base URL")
        if self.prometheus_url or self.alertmanager_url:
            raise UsageError(
                "--prometheus-url/--alertmanager-url do not apply to --sink mimir",
                "Mimir loads what is pushed itself; leave them out",
            )
        if self.platform.prometheus.shards or self.platform.alertmanager.replicas:
            raise UsageError(
                "prometheus.shards/alertmanager.replicas do not apply to --sink mimir",
                "Mimir's ruler and Alertmanager scale themselves (docs/mimir.md); "
                "remove them from the platform config",
            )
        am = self.platform.alertmanager
        found = file_fields({"global": am.global_, "defaultReceiver": am.default_receiver})
        if found:
            raise UsageError(
                f"platform config alertmanager.{found[0]}: Mimir refuses every *_file field",
                "give the value itself (Mimir keeps it in its bucket: docs/mimir.md)",
            )
        limits = self.mimir_limits
        if limits.rules_per_group < 1 or limits.groups_per_tenant < 0:
            raise UsageError(
                "--mimir-max-rules-per-group must be at least 1 and "
                "--mimir-max-groups-per-tenant at least 0 (0: no limit)"
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
    platform = settings.platform
    shards = platform.prometheus
    fixed.update({shard_target(s.name): s.url for s in [*shards.retiring, *shards.shards]})
    placement = Placement(shards)
    # alertmanager.yml reaches every Alertmanager replica (sinks/replicas.py), sharded or
    # not; a cluster sink's rule output reaches its customer's shard (sinks/kubeshards.py)
    every = with_replica_urls(platform, urls or (lambda: fixed))
    replicated = with_replicas(platform)
    reloader = Reloader(
        every, replicated if settings.kind == FILES else targets_of(placement, replicated)
    )
    if settings.kind == FILES:
        if settings.out_dir is None:
            raise UsageError("--sink files needs --out DIR", "give the rule/Alertmanager directory")
        if settings.platform.prometheus.shards:  # a directory and a Prometheus per shard
            return ShardedFileSink(
                settings.out_dir, settings.platform.prometheus, every, with_replicas(platform)
            )
        return FileSink(settings.out_dir, reloader)
    if settings.kind not in KINDS:
        raise UsageError(f"unknown sink {settings.kind!r}", f"use one of {', '.join(KINDS)}")
    if settings.kind == MIMIR:
        return _mimir(settings, client)
    if client is None:
        raise UsageError(f"the {settings.kind} sink writes to a cluster: it needs a client")
    if settings.kind == CONFIGMAP:
        return ConfigMapSink(client, settings.namespace, reloader, placement)
    prometheus, alertmanager, by_shard = settings.promop_targets()
    return PrometheusOperatorSink(
        client, settings.namespace, settings.platform, reloader, prometheus, alertmanager, by_shard
    )


def _mimir(settings: SinkSettings, client: KubeApi | None) -> Sink:
    """Standalone, secrets are the store's files; in the operator, Kubernetes Secrets."""
    if not settings.mimir_url:
        raise UsageError("--sink mimir needs --mimir-url URL", "give Mimir's base URL")
    mimir = MimirClient(settings.mimir_url, settings.mimir_token_file)
    if client is None:
        return MimirSink(
            mimir, settings.platform, file_lookup(settings.platform), settings.mimir_limits
        )
    return MimirSink(
        mimir, settings.platform, kube_lookup(client), settings.mimir_limits,
        kube_secret_problems(client),
    )  # fmt: skip

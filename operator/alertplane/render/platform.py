"""Platform-wide settings the platform team owns (not any customer): `--platform-config`."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..errors import UsageError
from ..manifests import load_text
from ..model.common import Duration
from .catalogue import MAX_TEMPLATES, AlertTemplate, ThresholdRange
from .secretfiles import secret_file

DEFAULT_SECRETS_DIR = "/etc/alertplane/secrets"


# A shard or replica name: a DNS label, so it can be a directory, a label value and part
# of a Kubernetes object name.
TargetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]


def _no_repeats(where: str, names: list[str]) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"{where}: names must be unique ({', '.join(sorted(seen))} repeated)")


def _one_server_each(
    targets: Sequence[Shard | Replica],
    where: str = "prometheus.shards",
    what: str = "shard {name}'s Prometheus too; each shard is its own Prometheus "
    "(docs/sharding.md)",
) -> None:
    """Two shards with one URL are one Prometheus: it loads one shard's directory (the
    other's customers never load) or both (nothing sharded, moves evaluated twice there).
    Two replicas with one URL are one Alertmanager asked twice: the other is never
    reloaded, routes with its old configuration, and every object says Synced."""
    seen: dict[tuple[str, str, str], str] = {}
    for i, target in enumerate(targets):
        if target.url is None:
            continue
        parts = urllib.parse.urlsplit(target.url.strip())
        key = (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"))
        if key in seen:
            said = what.format(name=seen[key])
            raise ValueError(f"{where}[{i}].url: {target.url} is {said}")
        seen[key] = target.name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RouteDefaults(_Strict):
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None


class Replica(_Strict):
    """One Alertmanager of a gossip cluster (`--cluster.peer`): every replica gets the same
    configuration and is reloaded; output is live when every replica has loaded it."""

    name: TargetName
    url: str | None = None  # base URL: POST <url>/-/reload, GET <url>/api/v2/status


class AlertmanagerSettings(_Strict):
    global_: dict[str, Any] = Field(default_factory=dict, alias="global")
    default_receiver: dict[str, Any] = Field(default_factory=dict, alias="defaultReceiver")
    route: RouteDefaults = Field(default_factory=RouteDefaults)
    replicas: list[Replica] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> AlertmanagerSettings:
        _no_repeats("alertmanager.replicas", [r.name for r in self.replicas])
        _one_server_each(
            self.replicas,
            "alertmanager.replicas",
            "replica {name}'s Alertmanager too; each replica is its own Alertmanager, "
            "reloaded and asked on its own (docs/ha-alertmanager.md)",
        )
        return self


class Shard(_Strict):
    """One rule-evaluation target. Its name places customers (render/placement.py: renaming
    a shard moves its customers) and, for the Kubernetes sinks, is the label value the shard's
    `Prometheus` object selects (`alertplane.io/shard: <name>`)."""

    name: TargetName
    url: str | None = None  # files/ConfigMap sinks: POST <url>/-/reload, GET /api/v1/rules


class PrometheusSettings(_Strict):
    shards: list[Shard] = Field(default_factory=list)  # none: one Prometheus, not sharded
    # customer id → shard name: customers that must stay put whatever the shard list does
    pins: dict[str, str] = Field(default_factory=dict)
    # A file_sd list of every customer's scrape targets (groups labelled customer_id): the
    # sharded files sink splits it into each shard's <out>/shards/<shard>/targets.json.
    targets_file: str | None = Field(None, alias="targetsFile")
    # Shards just removed from `shards` whose Prometheus still runs (the ConfigMap sink):
    # placed on by nobody, yet reloaded after their customers' copies are deleted, or they
    # keep evaluating them from memory. Drop an entry once every customer is Synced again.
    retiring: list[Shard] = Field(default_factory=list, alias="retiringShards")

    @model_validator(mode="after")
    def _known(self) -> PrometheusSettings:
        names = [s.name for s in self.shards]
        _no_repeats("prometheus.shards", names)
        _one_server_each(self.shards)
        _no_repeats("prometheus.retiringShards", [s.name for s in self.retiring])
        for i, old in enumerate(self.retiring):
            if old.name in names:
                raise ValueError(
                    f"retiringShards[{i}]: {old.name} is still in prometheus.shards; "
                    "list only shards removed from there"
                )
        for customer, shard in sorted(self.pins.items()):
            if shard not in names:
                raise ValueError(
                    f"pins.{customer}: no shard named {shard!r} (shards: {', '.join(names)})"
                )
        return self

    def shard_names(self) -> list[str]:
        return [s.name for s in self.shards]


class PlatformConfig(_Strict):
    secrets_dir: str = Field(DEFAULT_SECRETS_DIR, alias="secretsDir")
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    # The alert template catalogue and threshold ranges (render/catalogue.py).
    alert_templates: list[AlertTemplate] = Field(
        default_factory=list, alias="alertTemplates", max_length=MAX_TEMPLATES
    )
    thresholds: list[ThresholdRange] = Field(default_factory=list, max_length=MAX_TEMPLATES)

    @model_validator(mode="after")
    def _unique_templates(self) -> PlatformConfig:
        _no_repeats("alertTemplates", [t.name for t in self.alert_templates])
        _no_repeats("thresholds", [t.metric for t in self.thresholds])
        return self

    def template(self, name: str) -> AlertTemplate | None:
        return next((t for t in self.alert_templates if t.name == name), None)

    def secret_path(self, namespace: str, name: str, key: str) -> str:
        """Where a Secret key is mounted for Alertmanager's *_file fields (always under
        `<secretsDir>/<namespace>/`: SecretPathError otherwise)."""
        return secret_file(self.secrets_dir, namespace, name, key)

    def has_smtp(self) -> bool:
        glob = self.alertmanager.global_
        return bool(glob.get("smtp_smarthost")) and bool(glob.get("smtp_from"))


def load_platform_config(path: str | None) -> PlatformConfig:
    if path is None:
        return PlatformConfig()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: file is not UTF-8 text", "save it as UTF-8") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read platform config: {exc.strerror}") from exc
    # The manifest reader, so broken YAML is named by line and column the same way.
    loaded = load_text(text, path, lists=False)
    if loaded.problems:
        raise UsageError(str(loaded.problems[0]))
    if len(loaded.documents) > 1:
        raise UsageError(
            f"{loaded.documents[1].source}: a platform config is one YAML document",
            "remove the '---' and merge the documents",
        )
    data = loaded.documents[0].data if loaded.documents else {}
    try:
        config = PlatformConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise UsageError(
            f"{path}: {where}: {first['msg']}",
            "see docs/configuration.md 'Platform configuration' for the allowed keys",
        ) from exc
    if "name" in config.alertmanager.default_receiver:
        raise UsageError(
            f"{path}: alertmanager.defaultReceiver.name: the name is always platform-default",
            "remove the name key",
        )
    return config

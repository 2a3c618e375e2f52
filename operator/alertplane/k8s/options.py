"""The operator's options, as `alertplane operator`'s flags give them (k8s/command.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..health import READINESS_GRACE_S
from ..render.mimir import Limits
from .leader import LeaderSettings


@dataclass
class OperatorOptions:
    sink: str
    namespaces: list[str] = field(default_factory=list)  # empty: cluster-wide
    sink_namespace: str = "monitoring"
    out_dir: Path | None = None
    db_url: str | None = None
    platform_config: str | None = None
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    promop_prometheus: tuple[str, ...] = ()  # [NS/]NAME: the objects deciding liveness
    promop_alertmanager: tuple[str, ...] = ()
    mimir_url: str | None = None  # --sink mimir (sinks/mimir.py)
    mimir_token_file: str | None = None
    mimir_limits: Limits = field(default_factory=Limits)
    tenant_binding: bool = True
    metrics_port: int = 8080
    webhook_port: int | None = None
    webhook_cert: str | None = None
    webhook_key: str | None = None
    api_service_account: str | None = None  # NS/NAME of the REST API (webhook on)
    attribution_key_file: str | None = None  # shared with the API: kube/signing.py
    kubeconfig: str | None = None
    coalesce_s: float = 0.2
    resync_s: float = 300.0  # 0: no periodic resync
    readiness_grace_s: float = READINESS_GRACE_S
    leader: LeaderSettings | None = None  # None: the only replica, no election

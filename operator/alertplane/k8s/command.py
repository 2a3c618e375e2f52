"""The `alertplane operator` subcommand's arguments (kopf is imported only when it runs)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from .. import settings
from ..cli_store import readiness_grace
from ..ports import bind
from ..sinks import mimir_flags


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "operator",
        help="run the Kubernetes operator (CustomerAlert/CustomerReceiver → sink, status)",
    )
    p.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeatable); none: cluster-wide",
    )
    p.add_argument(
        "--sink",
        required=True,
        choices=("files", "configmap", "prometheus-operator", "mimir"),
        help="where rendered output goes",
    )
    settings.add(p, "sink_namespace", metavar="NS")
    settings.add(p, "out", metavar="DIR", help="output directory of the files sink")
    settings.add(
        p,
        "db",
        metavar="URL",
        help="database mirroring every object with an audit row (PostgreSQL; none: no mirror)",
    )
    settings.add(p, "platform_config", metavar="FILE")
    settings.add(p, "prometheus_url", metavar="URL")
    settings.add(p, "alertmanager_url", metavar="URL")
    _add_promop(p)
    mimir_flags.add_arguments(p)
    p.add_argument(
        "--tenant-binding",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="namespaces may only hold customers listed in their alertplane.io/customer "
        "label (default on)",
    )
    p.add_argument("--metrics-port", type=int, default=8080, help="/metrics /healthz /readyz")
    _add_webhook(p)
    p.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig to use (default: in-cluster, else $KUBECONFIG or ~/.kube/config)",
    )
    p.add_argument(
        "--resync-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="this often, compare the generated output (objects, files, copied Secrets) with "
        "what it should be and rewrite what differs: repairs hand edits and deletions, picks "
        "up rotated Secrets (default 300; 0: never)",
    )
    readiness_grace(p)
    p.add_argument("--coalesce", type=float, default=0.2, help=argparse.SUPPRESS)
    _add_leader(p)


def _add_leader(p: argparse.ArgumentParser) -> None:
    """Leader election (k8s/leader.py): several replicas, one writes."""
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run as one of several replicas: all watch and serve the webhook, the one "
        "holding a coordination.k8s.io Lease writes (default off: the only replica)",
    )
    p.add_argument(
        "--leader-election-namespace",
        metavar="NS",
        help="namespace of the Lease (default: $POD_NAMESPACE, else the pod's own)",
    )
    p.add_argument(
        "--leader-election-name",
        default="alertplane-operator",
        metavar="NAME",
        help="name of the Lease; replicas naming the same Lease elect one leader",
    )
    p.add_argument(
        "--leader-lease-duration",
        type=int,
        default=15,
        metavar="SECONDS",
        help="how long a leader's Lease holds without renewal: a follower takes over that "
        "long after a leader died without releasing it (default 15)",
    )
    p.add_argument(
        "--leader-renew-deadline",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a leader that could not renew for this long gives up (default 10)",
    )
    p.add_argument(
        "--leader-retry-period",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often the Lease is renewed, or tried by a follower (default 2)",
    )


def _add_promop(p: argparse.ArgumentParser) -> None:
    """The prometheus-operator objects whose state makes the sink's output live."""
    p.add_argument(
        "--promop-prometheus",
        action="append",
        default=[],
        metavar="[SHARD=][NS/]NAME",
        help="with --sink prometheus-operator: a Prometheus object (NS: the sink namespace) "
        "that must have loaded a customer's rules before they are Synced (repeatable; "
        "none: applied counts as synced); with prometheus.shards in the platform config, "
        "SHARD= names the shard whose rules it loads (one or more per shard)",
    )
    p.add_argument(
        "--promop-alertmanager",
        action="append",
        default=[],
        metavar="NAME",
        help="with --sink prometheus-operator: an Alertmanager object in the sink namespace "
        "whose generated configuration must hold a customer's routes before they are "
        "Synced (repeatable; none: applied counts as synced)",
    )


def _add_webhook(p: argparse.ArgumentParser) -> None:
    """The admission webhook's arguments and the audit attribution it checks."""
    p.add_argument("--webhook-port", type=int, metavar="PORT", help="serve the admission webhook")
    p.add_argument("--webhook-cert", metavar="FILE", help="TLS certificate of the webhook")
    p.add_argument("--webhook-key", metavar="FILE", help="TLS key of the webhook")
    p.add_argument(
        "--api-service-account",
        metavar="NS/NAME",
        help="with the webhook: the ServiceAccount of `alertplane serve --kubernetes`; the "
        "audit actor its annotations name (the API token) is believed only for changes the "
        "webhook admitted for this account",
    )
    settings.add(p, "attribution_key_file", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    # The ports before anything slow (kopf's import, the cluster): a busy one is told at
    # once, naming it. The health server binds its own again; kopf the webhook's.
    for port, flag in (
        (args.metrics_port, "--metrics-port"),
        (args.webhook_port, "--webhook-port"),
    ):
        if port is not None:
            bind("0.0.0.0", port, flag).close()
    from .operator import OperatorOptions, run_operator

    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("ALERTPLANE_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per watch event
    leader = None
    if args.leader_elect:
        from .leader import LeaderSettings, default_namespace

        leader = LeaderSettings(
            namespace=default_namespace(args.leader_election_namespace),
            name=args.leader_election_name,
            lease_s=args.leader_lease_duration,
            renew_s=args.leader_renew_deadline,
            retry_s=args.leader_retry_period,
            kubeconfig=args.kubeconfig,
        )
        leader.check()
    return run_operator(
        OperatorOptions(
            sink=args.sink,
            namespaces=list(args.namespaces),
            sink_namespace=args.sink_namespace,
            out_dir=Path(args.out) if args.out else None,
            db_url=args.db,
            platform_config=args.platform_config,
            prometheus_url=args.prometheus_url,
            alertmanager_url=args.alertmanager_url,
            promop_prometheus=tuple(args.promop_prometheus),
            promop_alertmanager=tuple(args.promop_alertmanager),
            mimir_url=args.mimir_url,
            mimir_token_file=args.mimir_token_file,
            mimir_limits=mimir_flags.limits(args),
            tenant_binding=args.tenant_binding,
            metrics_port=args.metrics_port,
            webhook_port=args.webhook_port,
            webhook_cert=args.webhook_cert,
            webhook_key=args.webhook_key,
            api_service_account=args.api_service_account,
            attribution_key_file=args.attribution_key_file,
            kubeconfig=args.kubeconfig,
            coalesce_s=args.coalesce,
            resync_s=args.resync_interval,
            readiness_grace_s=args.readiness_grace,
            leader=leader,
        )
    )

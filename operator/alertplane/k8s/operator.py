"""`alertplane operator`: wires kopf, the cluster state, the core reconciler, a sink, the
status publisher, the database mirror and the health/metrics server into one process.

Start-up is level-triggered: list every namespace label and custom resource first, then
the first full sync (which also removes output of customers that vanished while the
operator was down), then kopf's watches keep the state current.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kopf
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import UsageError
from ..health import READINESS_GRACE_S, readiness
from ..kube.client import ApiError, KubeClient, login
from ..kube.kinds import CUSTOM, NAMESPACE
from ..kube.paths import kind_path
from ..kube.signing import load_key
from ..lifecycle import Shutdown
from ..metrics import REGISTRY
from ..metrics_port import PlainHandler
from ..model.common import is_dns_label
from ..ports import unavailable
from ..render.mimir import Limits
from ..render.platform import PlatformConfig, load_platform_config
from ..sinks.base import Sink
from ..sinks.factory import KINDS, SinkSettings, build_sink
from ..store.db import parse_url
from ..sync import Reconciler, SyncSettings, release_memory
from .changes import service_account_user
from .handlers import Handlers
from .mirror import Mirror
from .publish import Publisher
from .reconciler import ClusterHooks
from .state import ClusterState

log = logging.getLogger("alertplane.operator")

SINKS = KINDS


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


def run_operator(opts: OperatorOptions) -> int:
    platform = load_platform_config(opts.platform_config)
    _sink_settings(opts, platform).check()  # before anything starts
    if opts.webhook_port is not None and not (opts.webhook_cert and opts.webhook_key):
        raise UsageError("--webhook-port needs --webhook-cert and --webhook-key")
    if not opts.resync_s >= 0:  # also NaN; a negative value would silently mean "never"
        raise UsageError(
            f"--resync-interval {opts.resync_s:g} is not a number of seconds",
            "give the seconds between resyncs, or 0 to turn them off",
        )
    api_user = None
    if opts.api_service_account is not None:
        api_user = _api_user(opts.api_service_account, opts.webhook_port is not None)
    if opts.db_url:
        parse_url(opts.db_url)  # a URL that can never work is a usage error, now
    status = _Status(opts.readiness_grace_s)
    server = serve_health(opts.metrics_port, status.readiness)
    try:
        with Shutdown().installed() as shutdown:
            return _run(opts, platform, api_user, status, shutdown)
    finally:
        server.shutdown()
        server.server_close()


def _run(
    opts: OperatorOptions,
    platform: PlatformConfig,
    api_user: str | None,
    status: _Status,
    shutdown: Shutdown,
) -> int:
    stop = threading.Event()
    shutdown.on_request(stop.set)
    client = KubeClient(lambda: login(opts.kubeconfig))
    state = ClusterState(opts.namespaces, api_user, _attribution_key(opts, api_user))
    sink = _start_sink(opts, platform, client)
    mirror = None
    if opts.db_url:
        mirror = Mirror(opts.db_url, state.snapshot, set(opts.namespaces))
        state.on_change.append(mirror.record)

    initial_list(client, state, opts.namespaces, opts.tenant_binding)
    if mirror is not None:
        state.seed_live(mirror.load_live())
    if stop.is_set():  # asked to stop while listing: nothing was started yet
        client.close()
        return 0

    reconciler, publisher = _wire(opts, platform, client, state, sink, mirror)
    status.reconciler = reconciler
    if mirror is not None:
        status.mirror = mirror
    threads = [threading.Thread(target=reconciler.run, args=(stop,), name="reconciler")]
    if mirror is not None:
        threads.append(threading.Thread(target=mirror.run, args=(stop,), name="mirror"))
    for t in threads:
        t.daemon = True
        t.start()
    publisher.start(stop)
    try:
        _run_kopf(opts, platform, client, state, publisher, stop, shutdown.grace_s)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if mirror is not None:
            mirror.close()
        client.close()
    return 0


def _attribution_key(opts: OperatorOptions, api_user: str | None) -> bytes | None:
    if opts.attribution_key_file is not None:
        return load_key(opts.attribution_key_file)
    if api_user is None:
        log.warning(
            "no --attribution-key-file: the REST API's audit annotations are believed "
            "unverified (anyone who may update these objects can claim to be a token); "
            "share a key with `alertplane serve --kubernetes`, or run the admission webhook "
            "with --api-service-account"
        )
    return None


def _sink_settings(opts: OperatorOptions, platform: PlatformConfig) -> SinkSettings:
    return SinkSettings(
        kind=opts.sink,
        out_dir=opts.out_dir,
        namespace=opts.sink_namespace,
        platform=platform,
        prometheus_url=opts.prometheus_url,
        alertmanager_url=opts.alertmanager_url,
        promop_prometheus=opts.promop_prometheus,
        promop_alertmanager=opts.promop_alertmanager,
        mimir_url=opts.mimir_url,
        mimir_token_file=opts.mimir_token_file,
        mimir_limits=opts.mimir_limits,
    )


def _start_sink(opts: OperatorOptions, platform: PlatformConfig, client: KubeClient) -> Sink:
    """The sink `--sink` names, having read what it wrote before (the one factory)."""
    sink = build_sink(_sink_settings(opts, platform), client)
    sink.start()
    return sink


def _wire(
    opts: OperatorOptions,
    platform: PlatformConfig,
    client: KubeClient,
    state: ClusterState,
    sink: Sink,
    mirror: Mirror | None,
) -> tuple[Reconciler, Publisher]:
    """The reconciler (the core one, with the cluster's hooks) and the status publisher,
    listening to the state, to each other and to the mirror."""
    settings = SyncSettings(
        out_dir=opts.out_dir or Path("."),
        platform=platform,
        prometheus_url=opts.prometheus_url,
        alertmanager_url=opts.alertmanager_url,
        coalesce_s=opts.coalesce_s,
        sink=sink,
    )
    hooks = ClusterHooks(
        state, opts.tenant_binding, sink.check_receiver, opts.resync_s, sink.refresh
    )
    reconciler = hooks.attach(settings)
    publisher = Publisher(client, state, sink.location, sink.written_message, mirror)
    state.on_touch.append(reconciler.notify)
    state.on_status.append(publisher.enqueue)
    # Statuses are compared then, not rewritten: this repairs hand-edited ones and
    # patches that failed, and writes nothing for the others.
    hooks.on_resync.append(lambda: publisher.enqueue(state.refs()))
    hooks.on_synced.append(lambda _report, removed: publisher.finalize(removed))
    hooks.on_synced.append(lambda _report, _removed: publisher.synced())
    if mirror is not None:
        mirror.on_mirrored.append(publisher.enqueue_after_first_sync)
        state.on_status.append(lambda refs: _mirror_statuses(state, mirror, refs))
        mirror.on_created.append(lambda refs: _mirror_statuses(state, mirror, refs))
    return reconciler, publisher


def _kopf_settings(opts: OperatorOptions) -> kopf.OperatorSettings:
    kopf_settings = kopf.OperatorSettings()
    kopf_settings.peering.standalone = True  # one replica; no peering objects to read/write
    kopf_settings.scanning.disabled = True  # no cluster-wide CRD/namespace list & watch
    kopf_settings.posting.enabled = False  # alertplane posts its own Events
    # Memory with 10,000 objects: kopf's initial list in pages, not all at once, and an idle
    # per-object worker (which keeps its last raw body) exits after 0.5 s instead of 5 s.
    kopf_settings.watching.chunk_size = 500
    kopf_settings.queueing.idle_timeout = 0.5
    if opts.webhook_port is not None:
        kopf_settings.admission.server = kopf.WebhookServer(
            addr="0.0.0.0",
            port=opts.webhook_port,
            certfile=opts.webhook_cert,
            pkeyfile=opts.webhook_key,
        )
    return kopf_settings


def _run_kopf(
    opts: OperatorOptions,
    platform: PlatformConfig,
    client: KubeClient,
    state: ClusterState,
    publisher: Publisher,
    stop: threading.Event,
    grace_s: float,
) -> None:
    """kopf's watches (and the webhook) until stopped; kopf's failure is raised here."""
    # kopf logs in again on a 401: re-reading the credentials picks up a rotated token.
    handlers = Handlers(
        state,
        client,
        platform,
        opts.tenant_binding,
        lambda: login(opts.kubeconfig),
        add_finalizer=publisher.add_finalizer,
    )
    kopf_settings = _kopf_settings(opts)
    log.info(
        "operator started: sink=%s, %s, tenant binding %s",
        opts.sink,
        "namespaces " + ",".join(opts.namespaces) if opts.namespaces else "cluster-wide",
        "on" if opts.tenant_binding else "off",
    )
    failure: list[BaseException] = []

    def run_kopf() -> None:
        try:
            kopf.run(
                registry=handlers.registry(webhook=opts.webhook_port is not None),
                settings=kopf_settings,
                standalone=True,
                clusterwide=not opts.namespaces,
                namespaces=opts.namespaces,
                stop_flag=stop,
            )
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    # kopf runs in a thread, so that SIGTERM and SIGINT reach lifecycle.Shutdown in the
    # main thread, as in `serve`: one way to stop, with one grace period.
    logging.getLogger("kopf._core.reactor.running").addFilter(_no_signal_warning)
    kopf_thread = threading.Thread(target=run_kopf, name="kopf", daemon=True)
    kopf_thread.start()
    try:
        while kopf_thread.is_alive():
            kopf_thread.join(0.2)
        if failure:
            raise failure[0]
    finally:
        stop.set()
        kopf_thread.join(timeout=grace_s)


def _no_signal_warning(record: logging.LogRecord) -> bool:
    return "OS signals are ignored" not in record.getMessage()


class _Status:
    """What /readyz answers (health.py); before the reconciler exists: starting."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.reconciler: Reconciler | None = None
        self.mirror: Mirror | None = None

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        if self.reconciler is None:
            return False, {"status": "not ready", "reasons": ["starting"]}
        mirror = self.mirror
        probe = None if mirror is None else (lambda: not mirror.error)
        return readiness(self.reconciler, None, self.grace_s, mirror=probe)


def _api_user(account: str, webhook: bool) -> str:
    """The admission user the REST API's changes must come from for its annotations
    (actor = token name) to be believed."""
    namespace, slash, name = account.partition("/")
    if not (slash and is_dns_label(namespace) and name and "/" not in name):
        raise UsageError(
            f"--api-service-account {account!r}: not NAMESPACE/NAME",
            "name the ServiceAccount `alertplane serve --kubernetes` runs as, e.g. "
            "alertplane-system/alertplane-api",
        )
    if not webhook:
        # Without the webhook nobody tells the operator who made a change: the flag would
        # silently make every API change anonymous.
        raise UsageError(
            "--api-service-account needs the admission webhook (--webhook-port): only the "
            "webhook sees which user made a change"
        )
    return service_account_user(account)


def initial_list(
    client: KubeClient, state: ClusterState, namespaces: list[str], binding: bool
) -> None:
    """Everything there is, before the first sync: restarts re-derive all output."""
    if binding:
        if namespaces:
            for name in namespaces:
                ns = client.get(kind_path(NAMESPACE, name=name))
                state.set_namespace(name, None if ns is None else ns.get("metadata") or {})
        else:
            for ns in client.list(kind_path(NAMESPACE)):
                meta = ns.get("metadata") or {}
                state.set_namespace(meta["name"], meta)
    for kind in CUSTOM:
        paths = [kind_path(kind, ns) for ns in namespaces] or [kind_path(kind)]
        for path in paths:
            try:  # page by page: only one page of full objects is held at a time
                for item in client.list(path):
                    state.observe({"apiVersion": kind.api_version, "kind": kind.kind, **item})
            except ApiError as exc:
                if exc.status == 404:
                    raise UsageError(
                        f"the {kind.crd_name} CustomResourceDefinition is not installed",
                        "kubectl apply -f crds/ (or install the Helm chart)",
                    ) from exc
                raise
    release_memory()


def _mirror_statuses(state: ClusterState, mirror: Mirror, refs: list[Any]) -> None:
    for ref in refs:
        entry = state.entry(ref)
        if entry is None:
            continue
        mirror.record_status(ref, entry.status)


def serve_health(
    port: int, ready: Callable[[], tuple[bool, dict[str, Any]]]
) -> ThreadingHTTPServer:
    """/metrics, /healthz and /readyz (health.py says what they mean)."""

    class Handler(PlainHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                ok, body = ready()
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found\n")

    try:
        server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    except OSError as exc:
        raise unavailable("0.0.0.0", port, "--metrics-port", exc) from exc
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server

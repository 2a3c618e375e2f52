"""`alertplane operator`: wires kopf, the cluster state, the core reconciler, a sink, the
status publisher, the database mirror and the health/metrics server into one process.

Start-up is level-triggered: list every namespace label and custom resource first, then
the first full sync (which also removes output of customers that vanished while the
operator was down), then kopf's watches keep the state current.

With --leader-elect several replicas run: each lists, watches and serves the webhook;
the one holding the Lease (k8s/leader.py) also runs the writers (k8s/leading.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

import kopf
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import ObjectRef, UsageError
from ..health import readiness
from ..kube.client import ApiError, KubeClient, login
from ..kube.kinds import CUSTOM, NAMESPACE
from ..kube.paths import kind_path
from ..kube.signing import load_key
from ..lifecycle import Shutdown
from ..metrics import REGISTRY
from ..metrics_port import PlainHandler
from ..model.common import is_dns_label
from ..ports import unavailable
from ..render.platform import PlatformConfig, load_platform_config
from ..sinks.factory import KINDS
from ..store.db import parse_url
from ..sync import Reconciler, release_memory
from .changes import service_account_user
from .handlers import Handlers
from .leader import EXIT_LEASE_LOST, Election
from .leading import Writers, sink_settings
from .mirror import Mirror
from .options import OperatorOptions as OperatorOptions  # re-exported: tests, command
from .state import ClusterState

log = logging.getLogger("alertplane.operator")

SINKS = KINDS


def run_operator(opts: OperatorOptions) -> int:
    platform = load_platform_config(opts.platform_config)
    sink_settings(opts, platform).check()  # before anything starts
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
    election = None if opts.leader is None else Election(opts.leader, shutdown.request)
    fence = None if election is None else election.lease.check
    client = KubeClient(
        lambda: login(opts.kubeconfig),
        fence=fence,
        agent=None if election is None else election.agent,
    )
    state = ClusterState(opts.namespaces, api_user, _attribution_key(opts, api_user))
    # Who finished a shard move, in its audit row: the replica (its pod) that did.
    alone = f"alertplane-operator/{os.environ.get('POD_NAME') or os.uname().nodename}"
    actor = alone if election is None else election.agent
    writers = Writers(opts, platform, client, state, fence, actor)
    kopf_runner = KopfRunner(opts, platform, client, state, writers.add_finalizer, stop)
    try:
        if election is None:
            writers.prepare()  # the mirror hears the listing, as it always did
        initial_list(client, state, opts.namespaces, opts.tenant_binding)
        if stop.is_set():  # asked to stop while listing: nothing was started yet
            return 0
        if election is None:
            _lead(writers, status, stop)
            kopf_runner.start()
        else:
            # Every replica watches and serves the webhook; only the leader writes.
            kopf_runner.start()
            status.standby = True
            election.start()
            if election.wait_leading(stop):
                writers.prepare()
                _lead(writers, status, stop)
        kopf_runner.wait()
    finally:
        stop.set()
        kopf_runner.join(shutdown.grace_s)
        writers.join()
        if election is not None:
            election.stop()  # after the writers: the Lease is released once they stopped
        client.close()
    return EXIT_LEASE_LOST if election is not None and election.lost else 0


def _lead(writers: Writers, status: _Status, stop: threading.Event) -> None:
    writers.seed()
    status.mirror = writers.mirror
    status.reconciler = writers.start(stop)


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


def _kopf_settings(opts: OperatorOptions) -> kopf.OperatorSettings:
    kopf_settings = kopf.OperatorSettings()
    # No kopf peering (it pauses equal-priority operators, it does not elect): several
    # replicas elect through the Lease (k8s/leader.py); no peering objects to read/write.
    kopf_settings.peering.standalone = True
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


class KopfRunner:
    """kopf's watches (and the webhook) in a thread, so that SIGTERM and SIGINT reach
    lifecycle.Shutdown in the main thread, as in `serve`: one way to stop, with one grace
    period. kopf's failure is raised by `wait`."""

    def __init__(
        self,
        opts: OperatorOptions,
        platform: PlatformConfig,
        client: KubeClient,
        state: ClusterState,
        add_finalizer: Callable[[ObjectRef], None],
        stop: threading.Event,
    ) -> None:
        self.opts = opts
        # kopf logs in again on a 401: re-reading the credentials picks up a rotated token.
        self.handlers = Handlers(
            state,
            client,
            platform,
            opts.tenant_binding,
            lambda: login(opts.kubeconfig),
            add_finalizer=add_finalizer,
        )
        self.stop = stop
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="kopf", daemon=True)

    def start(self) -> None:
        opts = self.opts
        log.info(
            "operator started: sink=%s, %s, tenant binding %s",
            opts.sink,
            "namespaces " + ",".join(opts.namespaces) if opts.namespaces else "cluster-wide",
            "on" if opts.tenant_binding else "off",
        )
        logging.getLogger("kopf._core.reactor.running").addFilter(_no_signal_warning)
        self.thread.start()

    def _run(self) -> None:
        opts = self.opts
        try:
            kopf.run(
                registry=self.handlers.registry(webhook=opts.webhook_port is not None),
                settings=_kopf_settings(opts),
                standalone=True,
                clusterwide=not opts.namespaces,
                namespaces=opts.namespaces,
                stop_flag=self.stop,
            )
        except BaseException as exc:  # handed to the main thread
            if not self.stop.is_set():
                self.failure.append(exc)
            else:  # stopped while starting up (e.g. during discovery): not a failure
                log.debug("kopf stopped while starting: %r", exc)

    def wait(self) -> None:
        """Until kopf ends (asked to stop, or failed: then its failure is raised)."""
        while self.thread.is_alive():
            self.thread.join(0.2)
        if self.failure:
            raise self.failure[0]

    def join(self, grace_s: float) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=grace_s)


def _no_signal_warning(record: logging.LogRecord) -> bool:
    return "OS signals are ignored" not in record.getMessage()


class _Status:
    """What /readyz answers (health.py); before the reconciler exists: starting."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.reconciler: Reconciler | None = None
        self.mirror: Mirror | None = None
        self.standby = False  # listed, watching and serving the webhook; another leads

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        if self.reconciler is None and self.standby:
            # Ready: its webhook answers (the Service sends admission requests to every
            # ready replica), and the PodDisruptionBudget counts it as able to take over.
            return True, {"status": "ready", "role": "standby"}
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

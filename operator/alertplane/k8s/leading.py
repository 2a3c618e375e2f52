"""The operator's writers: the sink, the core reconciler, the status publisher and the
database mirror. One replica runs them (the leader, k8s/leader.py; or the only one);
the watches and the webhook (k8s/operator.py) run in every replica.

They start from the cluster state as listed and watched so far: a new leader's sink
re-reads what the previous one wrote, its first full sync compares all output, its
mirror compares every object with its row, and its publisher compares each status
with what the object shows, so a failover neither loses nor repeats a change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ObjectRef
from ..kube.client import KubeClient
from ..render.platform import PlatformConfig
from ..sinks.base import Sink
from ..sinks.factory import SinkSettings, build_sink
from ..sinks.sharded_moves import MoveTracker
from ..sync import Reconciler, SyncSettings
from .changes import MoveEntry
from .mirror import Mirror
from .options import OperatorOptions
from .publish import Publisher
from .reconciler import ClusterHooks
from .state import FINALIZER, ClusterState


def sink_settings(opts: OperatorOptions, platform: PlatformConfig) -> SinkSettings:
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


class Writers:
    """Built in two steps: `prepare` (the sink reads what it wrote, the mirror attaches to
    the state) and `start` (the threads); `join` after the stop flag is set."""

    def __init__(
        self,
        opts: OperatorOptions,
        platform: PlatformConfig,
        client: KubeClient,
        state: ClusterState,
        fence: Callable[[], None] | None = None,
        actor: str = "alertplane-operator",
    ) -> None:
        """`fence`: raises unless this replica may write now (checked before each batch);
        `actor`: this replica, as its audit rows of finished shard moves name it."""
        self.opts = opts
        self.platform = platform
        self.client = client
        self.state = state
        self.fence = fence
        self.actor = actor
        self.sink: Sink | None = None
        self.mirror: Mirror | None = None
        self.reconciler: Reconciler | None = None
        self.publisher: Publisher | None = None
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def prepare(self) -> None:
        sink = build_sink(sink_settings(self.opts, self.platform), self.client)
        sink.start()
        if self.fence is not None:
            sink.write = _fenced(sink.write, self.fence)  # type: ignore[method-assign]
        self.sink = sink
        if self.opts.db_url:
            self.mirror = Mirror(self.opts.db_url, self.state.snapshot, set(self.opts.namespaces))
            if self.fence is not None:
                self.mirror.fence = self.fence
            self.state.on_change.append(self.mirror.record)
            _audit_moves(sink, self.mirror, self.actor)

    def seed(self) -> None:
        """Last valid versions from the database (after the state has its objects)."""
        if self.mirror is not None:
            self.state.seed_live(self.mirror.load_live())

    def start(self, stop: threading.Event) -> Reconciler:
        assert self.sink is not None
        reconciler, publisher = self._wire(self.sink)
        threads = [threading.Thread(target=reconciler.run, args=(stop,), name="reconciler")]
        if self.mirror is not None:
            threads.append(threading.Thread(target=self.mirror.run, args=(stop,), name="mirror"))
        for t in threads:
            t.daemon = True
            t.start()
        # Joined too before the client closes: a worker mid-request when the client closes
        # under it logs a traceback (seen when a stop came during the first sync).
        threads += publisher.start(stop)
        with self._lock:
            self.reconciler, self.publisher, self.threads = reconciler, publisher, threads
        self._finalizers_missed()
        return reconciler

    def add_finalizer(self, ref: ObjectRef) -> None:
        """From the watch handlers: queued for the publisher; before it exists (a replica
        standing by) nothing, as `start` adds every finalizer missing then."""
        with self._lock:
            publisher = self.publisher
        if publisher is not None:
            publisher.add_finalizer(ref)

    def _finalizers_missed(self) -> None:
        assert self.publisher is not None
        for ref in self.state.refs():
            entry = self.state.entry(ref)
            if entry is not None and not entry.deleting and FINALIZER not in entry.finalizers:
                self.publisher.add_finalizer(ref)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=10)
        if self.mirror is not None:
            self.mirror.close()

    def _wire(self, sink: Sink) -> tuple[Reconciler, Publisher]:
        """The reconciler (the core one, with the cluster's hooks) and the status publisher,
        listening to the state, to each other and to the mirror."""
        opts, state, mirror = self.opts, self.state, self.mirror
        settings = SyncSettings(
            out_dir=opts.out_dir or Path("."),
            platform=self.platform,
            prometheus_url=opts.prometheus_url,
            alertmanager_url=opts.alertmanager_url,
            coalesce_s=opts.coalesce_s,
            sink=sink,
        )
        hooks = ClusterHooks(
            state, opts.tenant_binding, sink.check_receiver, opts.resync_s, sink.refresh
        )
        reconciler = hooks.attach(settings)
        publisher = Publisher(self.client, state, sink.location, sink.written_message, mirror)
        state.on_touch.append(reconciler.notify)
        state.on_status.append(publisher.enqueue)
        # Statuses are compared then, not rewritten: this repairs hand-edited ones and
        # patches that failed, and writes nothing for the others.
        hooks.on_resync.append(lambda: publisher.enqueue(state.refs()))
        hooks.on_synced.append(lambda _report, removed: publisher.finalize(removed))
        hooks.on_synced.append(lambda _report, _removed: publisher.synced())
        if mirror is not None:
            mirror.on_mirrored.append(publisher.enqueue_after_first_sync)
            state.on_status.append(lambda refs: mirror_statuses(state, mirror, refs))
            mirror.on_created.append(lambda refs: mirror_statuses(state, mirror, refs))
        return reconciler, publisher


def mirror_statuses(state: ClusterState, mirror: Mirror, refs: list[Any]) -> None:
    for ref in refs:
        entry = state.entry(ref)
        if entry is None:
            continue
        mirror.record_status(ref, entry.status)


def _audit_moves(sink: Sink, mirror: Mirror, actor: str) -> None:
    """A sharded sink's finished moves become Placement audit rows through the mirror's
    queue (never waited on: the sync goes on while the database is down)."""
    moves = getattr(sink, "moves", None)
    if isinstance(moves, MoveTracker):
        moves.on_moved.append(
            lambda m: mirror.record_move(
                MoveEntry(m.customer_id, m.source, m.target, actor, datetime.now(UTC))
            )
        )


def _fenced(write: Callable[..., list[str]], fence: Callable[[], None]) -> Callable[..., list[str]]:
    """The sink's write of a batch of output, refused unless this replica leads now (the
    files sink writes no API object, so the client's per-request fence does not see it)."""

    def fenced(*args: Any, **kwargs: Any) -> list[str]:
        fence()
        return write(*args, **kwargs)

    return fenced

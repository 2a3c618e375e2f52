"""Leader election among operator replicas: a `coordination.k8s.io` Lease, held through
kubernetes_asyncio's elector (the Python port of client-go's), in its own thread and loop.

Every replica lists, watches and serves the admission webhook (admission needs the
cluster state: names taken, tenant bindings); only the leader writes. kopf's peering is
no election (equal-priority operators all pause), hence the Lease.

The fence. A leader that was paused (SIGSTOP, a frozen VM, a stalled node) past its
lease must not write when it resumes: another replica leads by then. The elector alone
notices late (it keeps retrying the renewal for `renew_s` after the pause), so this
process keeps its own deadline on its boot-time clock (`steady`: monotonic, and unlike
CLOCK_MONOTONIC it runs while the machine is suspended): a renewal sent at t holds until
t + lease_s·(1 - SKEW), since a follower takes over no earlier than lease_s after it
observed that renewal, which it can only observe after t. `Lease.check` runs before
every write the operator sends (kube/client.py); once past the deadline every write is
refused and the process exits (EXIT_LEASE_LOST) so the Deployment restarts it as a
follower. A write already sent when the pause began is the one left: the status and
finalizer patches carry the resourceVersion they were composed from, so one that
arrives after the new leader changed the object is refused by the API server.

On shutdown the writers stop first, then the Lease is released (holder cleared), so a
follower takes over at its next retry instead of after the whole lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.leaderelection import leaderelection as _elector
from kubernetes_asyncio.leaderelection.electionconfig import Config
from kubernetes_asyncio.leaderelection.leaderelection import LeaderElection
from kubernetes_asyncio.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock
from prometheus_client import Counter, Gauge

from ..errors import UsageError
from ..kube.client import SA_TOKEN, ApiError
from ..metrics import REGISTRY

log = logging.getLogger("alertplane.leader")

EXIT_LEASE_LOST = 4
SKEW = 0.1  # of the lease: clocks of replicas may run at slightly different rates
WATCH_S = 0.1  # how often the deadline is compared with the clock
SA_NAMESPACE = os.path.join(os.path.dirname(SA_TOKEN), "namespace")
T = TypeVar("T")
# The fence's clock. CLOCK_MONOTONIC stops while the machine (a VM) is suspended: a
# leader resumed after a minute would still find its 15 s lease held, and write.
STEADY_CLOCK = time.CLOCK_BOOTTIME


def steady() -> float:
    """Seconds on a clock no wall-clock step moves and that runs through suspension."""
    return time.clock_gettime(STEADY_CLOCK)


LEADER = Gauge(
    "alertplane_leader",
    "1 while this replica holds the leader Lease and writes, 0 while it stands by.",
    ["identity"],
    registry=REGISTRY,
)
FENCED = Counter(
    "alertplane_fenced_writes_total",
    "Writes refused before they were sent because this replica did not hold the Lease.",
    registry=REGISTRY,
)


class _SteadyTime:
    """`time` for kubernetes_asyncio's elector, which times a Lease's expiry with
    `time.time()`: a follower whose wall clock steps ahead (NTP, a VM resumed) would take
    a Lease renewed a moment ago, and two replicas would write until the holder's fence
    ran out. Wall time as of import, advanced by `steady` (client-go times this with
    Go's monotonic reading); the renewTime it writes is informational."""

    def __init__(self) -> None:
        self._wall, self._mono = time.time(), steady()

    def time(self) -> float:
        return self._wall + (steady() - self._mono)


_elector.time = _SteadyTime()  # type: ignore[assignment,attr-defined]


class NotLeading(ApiError):
    """A write refused by the fence: this replica does not (or no longer) hold the Lease."""


@dataclass(frozen=True)
class LeaderSettings:
    namespace: str
    name: str = "alertplane-operator"
    identity: str = ""
    lease_s: int = 15
    renew_s: float = 10.0
    retry_s: float = 2.0
    kubeconfig: str | None = None

    def check(self) -> None:
        """The elector's own constraints, said in the flags' words."""
        if not (self.lease_s > self.renew_s > 1.2 * self.retry_s and self.retry_s >= 1):
            raise UsageError(
                f"--leader-lease-duration {self.lease_s}, --leader-renew-deadline "
                f"{self.renew_s:g}, --leader-retry-period {self.retry_s:g}: need lease > "
                "renew deadline > 1.2 × retry period, and retry period ≥ 1",
                "e.g. 15, 10 and 2 (client-go's defaults)",
            )


def default_namespace(given: str | None) -> str:
    """--leader-election-namespace, else the pod's ($POD_NAMESPACE, its ServiceAccount's)."""
    if given:
        return given
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    with contextlib.suppress(OSError), open(SA_NAMESPACE, encoding="utf-8") as f:
        return f.read().strip()
    raise UsageError(
        "--leader-elect needs the namespace of its Lease",
        "pass --leader-election-namespace NS (in a pod: set POD_NAMESPACE)",
    )


def default_identity() -> str:
    """Unique per process: a restarted container must not mistake its dead
    predecessor's lease for its own."""
    pod = os.environ.get("POD_NAME") or os.uname().nodename
    return f"{pod}_{uuid.uuid4().hex[:8]}"


class Lease:
    """This process's own view of its lease, on its boot-time clock: the fence."""

    def __init__(self, lease_s: float, clock: Callable[[], float] = steady) -> None:
        self.lease_s = lease_s
        self.clock = clock
        self._lock = threading.Lock()
        self._until = float("-inf")

    def renewed(self, sent_at: float) -> None:
        """A create or update of the Lease naming us, sent at `sent_at`, succeeded."""
        with self._lock:
            self._until = max(self._until, sent_at + self.lease_s * (1 - SKEW))

    def drop(self) -> None:
        with self._lock:
            self._until = float("-inf")

    def held(self) -> bool:
        with self._lock:
            return self.clock() < self._until

    def check(self) -> None:
        """Before each write: refused unless the lease is held now."""
        if not self.held():
            FENCED.inc()
            raise NotLeading(0, "not written: this replica does not hold the leader Lease")


class FencedLeaseLock(LeaseLock):
    """kubernetes_asyncio's Lease lock, telling the fence when a renewal succeeded, with a
    timeout on each call (a hung API server must not hang the elector) and transport
    errors as the failed attempts the elector retries (it expects only ApiException)."""

    def __init__(self, name: str, namespace: str, identity: str, api: Any, lease: Lease):
        super().__init__(name, namespace, identity, api)
        self.lease = lease
        self.timeout_s = lease.lease_s / 2

    async def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        try:
            return await self._timed(super().get(name, namespace))
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            failure = ApiException(status=503, reason=str(exc) or type(exc).__name__)
            failure.body = json.dumps({"code": 503}).encode()  # the elector reads its code
            return False, failure

    async def create(self, name: str, namespace: str, election_record: Any) -> bool:
        return await self._renewing(super().create(name, namespace, election_record))

    async def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return await self._renewing(super().update(name, namespace, updated_record))

    async def _renewing(self, call: Awaitable[bool]) -> bool:
        sent = self.lease.clock()
        try:
            ok = bool(await self._timed(call))
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            log.warning("leader Lease not written: %s", exc or type(exc).__name__)
            return False
        if ok:
            self.lease.renewed(sent)
        return ok

    async def _timed(self, call: Awaitable[T]) -> T:
        return await asyncio.wait_for(call, self.timeout_s)

    async def release(self) -> None:
        """Clear the holder, so that a follower takes over at its next retry. Only our
        own record, and only the version read (a replace is refused on conflict)."""
        found, record = await self.get(self.name, self.namespace)
        if not found or not isinstance(record, LeaderElectionRecord):
            return
        if record.holder_identity != self.identity or self.lease_reference is None:
            return
        spec = self.lease_reference.spec
        spec.holder_identity = None  # type: ignore[assignment]  # cleared: nobody holds it
        spec.lease_duration_seconds = 1
        spec.renew_time = datetime.datetime.now(datetime.UTC)
        await self._timed(
            self.api_instance.replace_namespaced_lease(
                self.name, self.namespace, self.lease_reference
            )
        )


async def api_client(kubeconfig: str | None, agent: str) -> Any:
    """The elector's client, configured as kube/client.py's login: --kubeconfig, else the
    pod's ServiceAccount (its rotated token re-read), else $KUBECONFIG / ~/.kube/config."""
    configuration = k8s.Configuration()
    if not kubeconfig and os.path.exists(SA_TOKEN):
        k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
    else:
        await k8s_config.load_kube_config(
            config_file=kubeconfig, client_configuration=configuration, persist_config=False
        )
    api = k8s.ApiClient(configuration)
    api.user_agent = agent
    return api


class Election:
    """The elector in its own thread: `leading` is set once this replica holds the Lease;
    `on_lost(why)` is called (from that thread) if it stops holding it while running."""

    def __init__(self, settings: LeaderSettings, on_lost: Callable[[str], None]) -> None:
        settings.check()
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self.lease = Lease(settings.lease_s)
        self.on_lost = on_lost
        self.leading = threading.Event()
        self.lost = ""
        self._stopping = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        LEADER.labels(self.identity).set(0)

    @property
    def agent(self) -> str:
        """The User-Agent of this replica's requests: the audit log says which one wrote."""
        return f"alertplane-operator/{self.identity}"

    def start(self) -> None:
        log.info(
            "leader election: Lease %s/%s as %s (lease %ds)",
            self.settings.namespace,
            self.settings.name,
            self.identity,
            self.settings.lease_s,
        )
        self._thread.start()

    def wait_leading(self, stop: threading.Event) -> bool:
        """Until this replica leads (True) or is asked to stop (False)."""
        while not stop.is_set():
            if self.leading.wait(0.2):
                return True
        return False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop campaigning; release the Lease if held (call once the writers stopped)."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(wake.set)
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # -- the elector's thread -------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # the elector broke: stop leading, say why
            self._lose(f"leader election failed: {exc}")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        api = await api_client(self.settings.kubeconfig, self.agent)
        try:
            lock = FencedLeaseLock(
                self.settings.name, self.settings.namespace, self.identity, api, self.lease
            )
            await self._campaign(lock)
            if self._stopping.is_set() and self.lease.held():
                self.lease.drop()  # no write from here on, then hand the Lease over
                LEADER.labels(self.identity).set(0)
                await lock.release()
                log.info("released the leader Lease")
        finally:
            await api.close()

    async def _campaign(self, lock: FencedLeaseLock) -> None:
        """Run the elector until asked to stop or the lease is lost (then on_lost)."""
        s = self.settings
        config = Config(lock, s.lease_s, s.renew_s, s.retry_s, self._started, self._stopped)
        assert self._wake is not None
        tasks = {
            asyncio.create_task(LeaderElection(config).run()),
            asyncio.create_task(self._watch()),
            asyncio.create_task(self._wake.wait()),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _started(self) -> None:
        log.info("leading: %s holds the Lease", self.identity)
        LEADER.labels(self.identity).set(1)
        self.leading.set()

    async def _stopped(self) -> None:
        self._lose(f"could not renew the leader Lease within {self.settings.renew_s:g}s")

    async def _watch(self) -> None:
        """The fence's deadline, enforced: past it this replica stops leading at once, not
        after the elector's renew deadline (during which it would still write)."""
        while True:
            await asyncio.sleep(WATCH_S)
            if self.leading.is_set() and not self.lease.held():
                self._lose("the leader Lease expired before it was renewed (paused or cut off)")
                return

    def _lose(self, why: str) -> None:
        self.lease.drop()
        LEADER.labels(self.identity).set(0)
        if self._stopping.is_set() or self.lost:
            return
        self.lost = why
        log.error("%s: stopping, so that only the new leader writes", why)
        self.on_lost(why)

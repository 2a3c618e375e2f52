"""What every service call needs: the store (reads), the writer (standalone: the store and
the in-process reconciler; Kubernetes mode: the custom resources), settings, and the few
steps all writes share (what a caller may see, existence checks, wait for the outcome).
One `Context` serves both doors (REST API, console); the console's twin records its
writes with its own source (`sourced`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from ..errors import Conflict, NotFound, ObjectRef
from ..kube.namespaces import NamespaceBindings
from ..model import info
from ..model.records import ObjectRecord
from ..render.platform import PlatformConfig
from ..store.repo import Store
from ..sync import Reconciler
from .access import NOT_FOUND_CUSTOMER, Access
from .mimir_alerts import MimirAlertmanager
from .objects import pick, settled, view
from .tenancy import BoundWriter
from .tokens import Principal, TokenFile
from .writers import Moving, SourcedWriter, StoreWriter, Writer

MAX_WAIT_S = 10.0


@dataclass
class ApiSettings:
    tokens: TokenFile = field(default_factory=lambda: TokenFile(None))
    alertmanager_url: str | None = None  # default: the reconciler's reload target
    # The alert preview's Prometheus when no reconciler names one (serve --kubernetes).
    prometheus_url: str | None = None
    # `serve --sink mimir`: the firing view asks Mimir's per-tenant Alertmanager instead
    mimir: MimirAlertmanager | None = None
    wait_timeout_s: float = MAX_WAIT_S
    wait_poll_s: float = 0.02
    max_body_bytes: int = 16 * 1024 * 1024
    firing_timeout_s: float = 5.0
    # Requests served at once (anyio's thread pool). Kept below the database pool
    # (5 + 10 overflow) so connections are reused instead of opened per request.
    threads: int = 12

    @classmethod
    def from_file(cls, tokens_path: str | Path | None, **kwargs: object) -> ApiSettings:
        return cls(tokens=TokenFile(tokens_path), **kwargs)  # type: ignore[arg-type]


class Context:
    def __init__(
        self,
        reconciler: Reconciler | None,
        store: Store,
        settings: ApiSettings,
        writer: Writer | None = None,
        platform: PlatformConfig | None = None,
        bindings: NamespaceBindings | None = None,
    ) -> None:
        """`reconciler` is the in-process one (standalone mode), None in Kubernetes mode,
        where `writer` and `platform` are given, and `bindings` with tenant binding on
        (kube/namespaces.py): then a customer's reads and lookups see only objects in the
        namespaces bound to it, and writes go only there."""
        self.reconciler = reconciler
        self.store = store
        self.settings = settings
        base: Writer = writer or StoreWriter(store, reconciler)
        # For writes that may replace an object of another customer (admin imports move
        # objects): in Kubernetes mode a writer of its own, so nobody else's writes can.
        # Standalone, the store refuses a move in its write transaction unless asked to.
        mover: Writer = base.moving() if isinstance(base, Moving) else base
        if bindings is not None and not isinstance(base, BoundWriter):
            base, mover = BoundWriter(base, bindings), BoundWriter(mover, bindings)
        self.writer, self.mover = base, mover
        self.bindings = bindings
        self._platform = platform

    def sourced(self, source: str) -> Context:
        """The same context, its writes recorded with `source` (another door)."""
        return Context(
            self.reconciler,
            self.store,
            self.settings,
            SourcedWriter(self.writer, source),
            self._platform,
            self.bindings,
        )

    @property
    def platform(self) -> PlatformConfig:
        if self._platform is not None:
            return self._platform
        assert self.reconciler is not None, "a platform config or a reconciler is needed"
        return self.reconciler.settings.platform

    @property
    def alertmanager_url(self) -> str | None:
        if self.settings.alertmanager_url or self.reconciler is None:
            return self.settings.alertmanager_url
        return self.reconciler.settings.alertmanager_url

    def bound(self, customer: str) -> Store:
        """The store as far as `customer`'s objects are concerned: with tenant binding,
        only the namespaces bound to it (what writes, their lookups and uniqueness checks
        consider); otherwise all of it."""
        if self.bindings is None:
            return self.store
        return self.store.within(self.bindings.namespaces_of(customer))

    def reads(self, who: Access | Principal) -> Store:
        """What `who` may read: a customer token only its bound objects; an admin
        everything, also objects in namespaces not bound to their customer (the operator
        marks those Invalid, and they show so)."""
        principal = who.principal if isinstance(who, Access) else who
        return self.store if principal.customer is None else self.bound(principal.customer)

    def require_known(self, access: Access) -> None:
        """Reads of a customer that never had objects are 404, like a foreign one."""
        if not access.own and not self.reads(access).customer_known(access.customer):
            raise NotFound(NOT_FOUND_CUSTOMER)

    def lookup(
        self,
        kind: str,
        access: Access,
        name: str,
        read: bool = False,
        severity: str | None = None,
    ) -> ObjectRecord:
        """The customer's object named `name` in a namespace bound to it (what a write
        may change); with `read`, an admin also finds an unbound one. `severity` picks
        one alert of a warning/critical pair (objects.pick: 409 for a pair without it)."""
        found: list[ObjectRecord] = []
        if plausible(name):
            found = self.bound(access.customer).named(kind, access.customer, name)
            if not found and read and self.bindings is not None and access.principal.is_admin:
                found = self.store.named(kind, access.customer, name)
        if not found:
            self.require_known(access)
        if len(found) > 1 and info(kind).shared_by and kind != "CustomerAlert":
            # Alerts of one name are a pair, told apart by ?severity= (objects.pick).
            self._only_one(kind, access, name, read)
        return pick(kind, access.customer, name, found, severity)

    def _only_one(self, kind: str, access: Access, name: str, read: bool) -> None:
        """Objects of a kind that may share a name (recording rules of one record with
        other labels: apply, import, kubectl) are addressed by name only while it is
        unique: the API never picks one of several for the caller."""
        entry = info(kind)
        store = self.reads(access) if read else self.bound(access.customer)
        same = [
            s
            for s in store.get(kind=kind, customer=access.customer)
            if s.spec.get(entry.name_field) == name
        ]
        if len(same) > 1:
            told = "; ".join(
                f"{s.namespace}/{s.name} with {' and '.join(entry.shared_by)} "
                + ", ".join(repr(s.spec.get(f) or {}) for f in entry.shared_by)
                for s in same
            )
            raise Conflict(
                f"{len(same)} {entry.nouns} of customer {access.customer!r} are named {name!r} "
                f"({told}); the API addresses one by name only while it is unique: change "
                "them with alertplane apply or kubectl"
            )

    async def settle(self, out: dict[str, Any]) -> dict[str, Any]:
        """`out` (a written object) once the reconciler has concluded about its generation
        (Synced, Invalid, Disabled, Failed), or as it is when the wait runs out. Waits in
        the event loop, so waiting requests hold no thread. The writer says where the
        status is freshest (Kubernetes mode: the custom resource's own status)."""
        ref = ObjectRef(out["kind"], out["metadata"]["namespace"], out["metadata"]["name"])
        deadline = time.monotonic() + min(self.settings.wait_timeout_s, MAX_WAIT_S)
        pause = self.settings.wait_poll_s
        while True:
            current = await anyio.to_thread.run_sync(self.writer.current, ref)
            if current is None:
                raise NotFound("deleted while waiting")
            left = deadline - time.monotonic()
            if settled(current) or left <= 0:
                return view(current)
            await anyio.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.25)


def plausible(name: str) -> bool:
    # Only names that could be stored reach the database (no NUL, no lone surrogates).
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return 0 < len(name) <= 253 and "\x00" not in name

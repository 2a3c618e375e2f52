"""Which namespaces are bound to which customers, as the API server says (kube/binding.py).

The operator marks an object Invalid when its namespace is not bound to its customer, but
its mirror stores every object under `spec.customerId`: anyone who may write custom
resources in namespace `globex` can put a `customerId: acme` object there. So every read,
lookup, uniqueness check and write the API makes for a customer considers only objects in
namespaces bound to that customer, and nothing is written into a namespace not bound to
the object's customer.

Design: the API reads the bindings from the API server itself (one list of Namespaces,
cached for `ttl_s`) and narrows the store's queries to the bound namespaces
(`Store.within`). The alternative, the mirror recording per object whether it is bound,
needs a schema migration and rows re-written whenever a namespace's label changes, and
its answer lags the operator; this asks the same source the operator asks, keeps the
database schema and the operator unchanged, and costs one list of Namespaces every few
seconds (RBAC: `list namespaces` for the API's ServiceAccount, as the operator has).

Admins read everything (also objects in unbound namespaces, with their Invalid status);
their writes and the lookups and uniqueness checks for writes are bound like any token's.
Without the bindings (the API server unreachable and nothing known yet) a customer's
reads are refused (503), never answered unfiltered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ObjectRef, Problem, Unavailable, UpstreamFailed
from .binding import BINDING_KEY, binding_of, binding_problem, bound_customers
from .client import ApiError as KubeError
from .client import KubeClient
from .kinds import NAMESPACE
from .paths import kind_path

log = logging.getLogger("alertplane.kube.namespaces")

BINDINGS_TTL_S = 3.0
# On a failed refresh the last bindings are used this long, then reads are refused.
STALE_S = 60.0
# After a failed list, none for this long: a slow or down API server must not be asked
# again by every waiting request in turn.
RETRY_S = 2.0


class NamespaceBindings:
    """namespace → its binding as written (kube/binding.py `binding_of`), from the API
    server, cached briefly. One list at a time, made outside the lock: requests that find
    a refresh under way use the cached bindings (or wait for it when they have none)."""

    def __init__(self, client: KubeClient, ttl_s: float = BINDINGS_TTL_S) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self._cv = threading.Condition()
        self._bindings: dict[str, str | None] | None = None
        self._at = 0.0  # when _bindings was read (monotonic)
        self._refreshing = False
        self._retry_at = 0.0
        self._error = ""  # of the last failed list
        self._refused = False  # that failure was a 401/403: RBAC, not an outage

    def snapshot(self, fresh: bool = False) -> dict[str, str | None]:
        max_age = 0.0 if fresh else self.ttl_s
        with self._cv:
            now = time.monotonic()
            if self._bindings is not None and now - self._at < max_age:
                return self._bindings
            if self._refreshing or now < self._retry_at:
                if self._refreshing and (fresh or self._bindings is None):
                    self._cv.wait_for(lambda: not self._refreshing, timeout=30.0)
                return self._usable()
            self._refreshing = True
        try:
            listed = {
                str((ns.get("metadata") or {}).get("name")): binding_of(ns.get("metadata") or {})
                for ns in self.client.list(kind_path(NAMESPACE))
            }
        except KubeError as exc:
            with self._cv:
                self._refreshing = False
                self._retry_at = time.monotonic() + RETRY_S
                self._error, self._refused = str(exc), exc.status in (401, 403)
                self._cv.notify_all()
                if not self._refused:
                    log.warning("namespaces not refreshed, using the last ones: %s", exc)
                return self._usable()
        except BaseException:
            with self._cv:
                self._refreshing = False
                self._cv.notify_all()
            raise
        with self._cv:
            self._bindings, self._at = listed, time.monotonic()
            self._refreshing, self._retry_at, self._error = False, 0.0, ""
            self._cv.notify_all()
            return listed

    def _usable(self) -> dict[str, str | None]:
        """The cached bindings while not too old, else why not (under the lock)."""
        if self._refused:
            raise UpstreamFailed(
                f"the Kubernetes API server refused to list namespaces ({self._error}); "
                "the API's ServiceAccount needs `list namespaces` with tenant "
                "binding (the chart's api RBAC), or run with --no-tenant-binding"
            )
        if self._bindings is not None and time.monotonic() - self._at < STALE_S:
            return self._bindings
        raise Unavailable(
            "the Kubernetes API server is unavailable, so the namespaces' tenant binding "
            f"is unknown ({self._error or 'not listed yet'}); retry later"
        )

    def namespaces_of(self, customer: str) -> frozenset[str]:
        """The namespaces bound to `customer`."""
        return frozenset(
            ns
            for ns, binding in self.snapshot().items()
            if customer in (bound_customers(binding) or ())
        )

    def including(self, namespaces: Iterable[str]) -> dict[str, str | None]:
        """The bindings, listed again (once) when one of `namespaces` is not in the cached
        ones: it may have been created since, and judging it unbound would be wrong."""
        bindings = self.snapshot()
        if any(ns not in bindings for ns in namespaces):
            bindings = self.snapshot(fresh=True)
        return bindings

    def problem(
        self,
        ref: ObjectRef,
        customer: str,
        default_namespace: str,
        bindings: dict[str, str | None] | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> Problem | None:
        """Why `customer`'s object may not be written at `ref` (None: it may). A namespace
        that does not exist is left to the API server, which says so."""
        if bindings is None:
            bindings = self.including([ref.namespace])
        if ref.namespace not in bindings:
            return None
        found = binding_problem(ref.namespace, customer, bindings[ref.namespace], spec)
        if found is None:
            return None
        if found.path != "spec.customerId":  # a Secret reference in a shared namespace
            return found.at(ref)
        hint = found.hint
        if ref.namespace == default_namespace:
            hint = (
                f"label namespace {ref.namespace} {BINDING_KEY}={customer} (kubectl label "
                f"namespace {ref.namespace} {BINDING_KEY}={customer}), or point "
                "`alertplane serve --customer-namespace` (chart: api.customerNamespace) at a "
                f"namespace bound to {customer}"
            )
        return Problem("metadata.namespace", found.message, hint).at(ref)

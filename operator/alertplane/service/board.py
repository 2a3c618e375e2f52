"""The live alert board: every alert of the customers a caller may see, in one list.

Each alert shows its state (firing / pending / silenced / inhibited), since when, its
condition (the stored spec's expr) and current value, and where Alertmanager sends it.
Three sources, each optional (a missing or failing one is a line in `problems`, and the
board shows what the others know):

- Alertmanager (service/alertmanagers.py: every replica merged, or Mimir's tenants):
  firing, silenced and inhibited alerts, with the receivers they reached;
- the customers' Prometheus (board_sources.py: every shard, or Mimir's ruler): pending
  alerts, which Alertmanager never sees, and each alert's current value;
- the store: the alert's expression, matched by (alertName, severity), the pair idiom's
  identity, and the customer's receivers, to route a pending alert the way the reconciler
  renders them (service/customers.py's route test, rendered once per customer).

A customer token's board is asked with its own customer only, at every source (an
Alertmanager filter, its Prometheus shard, its Mimir tenant) and filtered again here: an
alert whose `customer_id` is not one of the caller's is dropped whatever a source says.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..errors import Unavailable, UpstreamFailed
from ..model import CustomerReceiver, CustomerReceiverSpec
from ..model.records import ObjectRecord, format_time
from ..render.alertmanager import PLATFORM_RECEIVER, customer_route
from ..routing import Route, route_tree
from ..store.repo import Store
from ..validate import Parsed, parse_document, validate_objects
from .alertmanagers import alertmanager_alerts
from .board_sources import prometheus_alerts, tenants_alertmanager
from .context import Context
from .objects import ALERT, RECEIVER
from .tokens import Principal

TENANT_LABEL = "customer_id"
STATES = ("firing", "pending", "inhibited", "silenced")
SHOWN = ("alertname", TENANT_LABEL, "severity")  # labels with a column of their own
TIMEOUT_S = 3.0
MAX_ROWS = 300  # rows one page shows; the counts cover every alert
BUILDS_PER_PRINCIPAL = 2  # boards one token builds at once (tabs, a stuck client)
T = TypeVar("T")


@dataclass(frozen=True)
class BoardAlert:
    customer: str
    alertname: str
    severity: str
    state: str  # one of STATES
    since: str  # RFC 3339: firing since (Alertmanager) or active since (pending)
    value: str | None  # the condition's value at the last evaluation, if Prometheus said
    expr: str | None  # the stored alert's condition, if an object of this identity exists
    labels: dict[str, str]  # the alert's other labels
    summary: str
    receivers: list[str]  # the customer's receiver names (prefix removed)
    fingerprint: str  # Alertmanager's ("" while pending: Alertmanager has not got it)
    silenced_by: list[str] = field(default_factory=list)
    inhibited_by: list[str] = field(default_factory=list)

    @property
    def team(self) -> str:
        return self.labels.get("team", "")

    @property
    def key(self) -> str:
        """How a form names the alert: Alertmanager's fingerprint, or for an alert
        Alertmanager has not got yet (pending) a digest of its labels."""
        if self.fingerprint:
            return self.fingerprint
        labels = {"alertname": self.alertname, "severity": self.severity, **self.labels}
        text = "\0".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return "p" + hashlib.sha256(f"{self.customer}\0{text}".encode()).hexdigest()[:16]


@dataclass
class Board:
    customers: list[str]
    alerts: list[BoardAlert]  # every alert, ordered by state then customer and name
    problems: list[str]
    built_at: str

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for a in self.alerts:
            out[a.state] = out.get(a.state, 0) + 1
        return out

    def shown(
        self, state: str | None = None, customer: str | None = None, limit: int = MAX_ROWS
    ) -> list[BoardAlert]:
        picked = [
            a
            for a in self.alerts
            if (state is None or a.state == state) and (customer is None or a.customer == customer)
        ]
        return picked[:limit]


class Gate:
    """At most `limit` boards built at once per principal: a client that refreshes in a
    tight loop, or many tabs, holds a few of the server's threads, never all of them."""

    def __init__(self, limit: int = BUILDS_PER_PRINCIPAL) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}

    @contextmanager
    def enter(self, who: Principal) -> Iterator[None]:
        with self._lock:
            if self._busy.get(who.name, 0) >= self.limit:
                raise Unavailable(
                    f"{who.name} is building {self.limit} boards at once already; "
                    "the board retries on its own"
                )
            self._busy[who.name] = self._busy.get(who.name, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[who.name] -= 1
                if not self._busy[who.name]:
                    del self._busy[who.name]


def build(ctx: Context, who: Principal, customers: list[str]) -> Board:
    """The board of `customers` (the caller may see each: the door checked)."""
    problems: list[str] = []
    mine = set(customers)
    # Alertmanager and Prometheus are asked at once: the board waits for the slower.
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(prometheus_alerts, ctx, customers, TIMEOUT_S)
        managed = _alertmanager(ctx, who, customers, problems)
        evaluated, prom_problems = asked.result()
    problems.extend(prom_problems)
    exprs = _exprs(ctx, who, customers)
    routes = _Routes(ctx)
    alerts = merge(
        [a for a in managed if _labels(a).get(TENANT_LABEL) in mine],
        [a for a in evaluated if _labels(a).get(TENANT_LABEL) in mine],
        exprs,
        routes,
    )
    return Board(customers, alerts, problems, format_time())


def _alertmanager(
    ctx: Context, who: Principal, customers: list[str], problems: list[str]
) -> list[Any]:
    query = {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"}
    if who.customer is not None:
        query["filter"] = f'{TENANT_LABEL}="{who.customer}"'
    elif len(customers) == 1:
        query["filter"] = f'{TENANT_LABEL}="{customers[0]}"'
    if ctx.settings.mimir is not None:
        found, failed = tenants_alertmanager(ctx, customers, query, TIMEOUT_S)
        problems.extend(failed)
        return list(found)
    try:
        return [a for a in alertmanager_alerts(ctx, query, TIMEOUT_S, customers) if _dict(a)]
    except Unavailable:
        problems.append("Alertmanager not configured: firing, silenced and inhibited unknown")
    except UpstreamFailed:
        problems.append("Alertmanager unreachable: firing, silenced and inhibited unknown")
    return []


def _dict(value: Any) -> bool:
    return isinstance(value, dict)


def _labels(alert: Any) -> dict[str, str]:
    labels = alert.get("labels") if isinstance(alert, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


Exprs = dict[tuple[str, str, str], str]


_KEPT: weakref.WeakKeyDictionary[Store, dict[Any, tuple[int, Any]]] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()
KEPT_MAX = 16  # values kept per store (route trees of different sets of customers)


def _kept(ctx: Context, key: Any, make: Callable[[], T]) -> T:
    """`make()`, kept until the store's next change. Standalone every change is an audit
    row (Store.change_marker); an admin's board of 2,000 alerts need not read and check
    every object again on each refresh. Kubernetes mode (the store mirrors the cluster,
    tenant binding may hide namespaces): made each time."""
    if ctx.reconciler is None:
        return make()
    marker = ctx.store.change_marker()
    with _KEPT_LOCK:
        found = _KEPT.setdefault(ctx.store, {}).get(key)
    if found is not None and found[0] == marker:
        return cast(T, found[1])
    value = make()
    with _KEPT_LOCK:
        kept = _KEPT.setdefault(ctx.store, {})
        kept[key] = (marker, value)
        while len(kept) > KEPT_MAX:
            kept.pop(next(iter(kept)))
    return value


def _exprs(ctx: Context, who: Principal, customers: list[str]) -> Exprs:
    """(customer, alertName, severity) → expr of the stored alerts: of every customer
    when kept (the caller looks up only customers it may see), else of `customers` as
    `who` may read them."""
    if ctx.reconciler is None:
        return _read_exprs(ctx.reads(who).get(kind=ALERT, customers=customers))
    return _kept(ctx, "exprs", lambda: _read_exprs(ctx.store.get(kind=ALERT)))


def _read_exprs(records: list[ObjectRecord]) -> Exprs:
    out: Exprs = {}
    for record in records:
        spec = record.spec
        key = (record.customer_id, str(spec.get("alertName", "")), str(spec.get("severity", "")))
        if isinstance(spec.get("expr"), str):
            out[key] = spec["expr"]
    return out


class _Routes:
    """Where alerts Alertmanager has not got yet (pending ones) would go: the customers'
    stored receivers as service.customers.route_test takes them (only valid ones, only
    bound namespaces), their routing subtrees rendered as the reconciler renders them,
    all of them in one tree, matched by the routing function route_test uses."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._tree: Route | None = None

    def prepare(self, customers: set[str]) -> None:
        if not customers:
            return
        key = ("routes", frozenset(customers))
        self._tree = _kept(self.ctx, key, lambda: self._make(sorted(customers)))

    def _make(self, customers: list[str]) -> Route:
        found: dict[str, list[CustomerReceiverSpec]] = {c: [] for c in customers}
        for stored in self._stored(customers):
            obj, _ = parse_document(stored.manifest(with_status=False))
            if isinstance(obj, CustomerReceiver) and not validate_objects([Parsed(obj)]):
                found[stored.customer_id].append(obj.spec)
        routes = [customer_route(c, specs) for c, specs in sorted(found.items())]
        return route_tree({"route": {"receiver": PLATFORM_RECEIVER, "routes": routes}})

    def _stored(self, customers: list[str]) -> list[ObjectRecord]:
        if self.ctx.bindings is None:  # one query for all of them
            return self.ctx.store.get(kind=RECEIVER, customers=customers)
        return [r for c in customers for r in self.ctx.bound(c).get(kind=RECEIVER, customer=c)]

    def receivers(self, customer: str, labels: dict[str, str]) -> list[str]:
        if self._tree is None:
            return []
        return _own([r.receiver for r in self._tree.match(labels)], customer)


def _own(names: list[str], customer: str) -> list[str]:
    """The customer's receivers among Alertmanager's names (`<customer>/<receiverName>`),
    each once, in order; the platform's fallback is not the customer's to see by name."""
    prefix = f"{customer}/"
    out: list[str] = []
    for name in names:
        short = name[len(prefix) :] if name.startswith(prefix) else ""
        if short and short not in out:
            out.append(short)
    return out


def merge(managed: list[Any], evaluated: list[Any], exprs: Exprs, routes: Any) -> list[BoardAlert]:
    """One BoardAlert per alert: Prometheus' alerts matched to Alertmanager's by labels
    (Alertmanager's may carry more: external labels), Alertmanager's unmatched ones kept
    (their Prometheus was not reachable, or they came from elsewhere)."""
    held = [_labels(a) for a in managed]
    by_name: dict[tuple[str, str], list[int]] = {}
    for i, labels in enumerate(held):
        key = (labels.get(TENANT_LABEL, ""), labels.get("alertname", ""))
        by_name.setdefault(key, []).append(i)
    used: set[int] = set()
    matched: list[tuple[dict[str, Any], dict[str, str], int | None]] = []
    for alert in evaluated:
        labels = _labels(alert)
        key = (labels.get(TENANT_LABEL, ""), labels.get("alertname", ""))
        match = _match(labels, held, by_name.get(key, []), used)
        if match is not None:
            used.add(match)
        matched.append((alert, labels, match))
    routes.prepare({labels.get(TENANT_LABEL, "") for _, labels, m in matched if m is None})
    out: list[BoardAlert] = []
    for alert, labels, match in matched:
        value = _value(alert.get("value"))
        if match is None:
            out.append(_from_prometheus(alert, labels, value, exprs, routes))
        else:
            out.append(_from_alertmanager(managed[match], held[match], value, exprs))
    for i, alert in enumerate(managed):
        if i not in used:
            out.append(_from_alertmanager(alert, held[i], None, exprs))
    order = {s: i for i, s in enumerate(STATES)}
    out.sort(key=lambda a: (order.get(a.state, 9), a.customer, a.alertname, a.since))
    return out


def _match(
    labels: dict[str, str], held: list[dict[str, str]], candidates: list[int], used: set[int]
) -> int | None:
    items = labels.items()
    for i in candidates:
        if i not in used and items <= held[i].items():
            return i
    return None


def _value(raw: Any) -> str | None:
    try:
        return f"{float(raw):.6g}" if raw is not None else None
    except (TypeError, ValueError):
        return None


def _expr(exprs: Exprs, labels: dict[str, str]) -> str | None:
    key = (labels.get(TENANT_LABEL, ""), labels.get("alertname", ""), labels.get("severity", ""))
    return exprs.get(key)


def _rest(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(labels.items()) if k not in SHOWN}


def _from_prometheus(
    alert: dict[str, Any], labels: dict[str, str], value: str | None, exprs: Exprs, routes: Any
) -> BoardAlert:
    customer = labels.get(TENANT_LABEL, "")
    state = "pending" if alert.get("state") == "pending" else "firing"
    notes = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    return BoardAlert(
        customer=customer,
        alertname=labels.get("alertname", ""),
        severity=labels.get("severity", ""),
        state=state,
        since=str(alert.get("activeAt", ""))[:19] + "Z" if alert.get("activeAt") else "",
        value=value,
        expr=_expr(exprs, labels),
        labels=_rest(labels),
        summary=str((notes or {}).get("summary", "")),
        receivers=routes.receivers(customer, labels),
        fingerprint="",
    )


def _from_alertmanager(
    alert: dict[str, Any], labels: dict[str, str], value: str | None, exprs: Exprs
) -> BoardAlert:
    status = alert.get("status") if isinstance(alert.get("status"), dict) else {}
    silenced = [str(s) for s in (status or {}).get("silencedBy") or []]
    inhibited = [str(s) for s in (status or {}).get("inhibitedBy") or []]
    state = "silenced" if silenced else "inhibited" if inhibited else "firing"
    notes = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    customer = labels.get(TENANT_LABEL, "")
    names = [str(r.get("name", "")) for r in alert.get("receivers") or [] if isinstance(r, dict)]
    return BoardAlert(
        customer=customer,
        alertname=labels.get("alertname", ""),
        severity=labels.get("severity", ""),
        state=state,
        since=str(alert.get("startsAt", ""))[:19] + "Z" if alert.get("startsAt") else "",
        value=value,
        expr=_expr(exprs, labels),
        labels=_rest(labels),
        summary=str((notes or {}).get("summary", "")),
        receivers=_own(names, customer),
        fingerprint=str(alert.get("fingerprint", "")),
        silenced_by=silenced,
        inhibited_by=inhibited,
    )


def find(board: Board, customer: str, key: str) -> BoardAlert | None:
    """The customer's alert of that key (BoardAlert.key) on the board, if any."""
    for alert in board.alerts:
        if alert.customer == customer and key and alert.key == key:
            return alert
    return None

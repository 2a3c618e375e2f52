"""Live preview of an alert before saving it (`POST /customers/{id}/alerts/preview`, the
console's Preview button): which series would fire now, with the labels the alert would
carry and its annotations as Prometheus would expand them (preview_expand.py).

The spec is admitted first exactly as a create would admit it (service/objects.build:
schema, isolation, autoInject, names, labels), so only an expression that selects the
customer's own series ever reaches Prometheus; then it is evaluated once with
`/api/v1/query` on the customer's Prometheus (its shard), bounded three ways so that no
customer can hold a server thread or starve Prometheus: Prometheus' own query `timeout`,
a deadline and size cap on the answer (http_read), and a few previews at once per process
(more are refused with 503, never queued).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import http_read
from ..errors import Invalid, ObjectRef, ToolError, Unavailable, UpstreamFailed
from ..model import CustomerAlert
from ..render.placement import place
from .access import Access
from .context import Context
from .objects import build
from .preview_expand import MAX_EXPANDED, expand

ALERT = "CustomerAlert"
TENANT_LABEL = "customer_id"
MAX_SERIES = 100  # series listed in the answer (the count is of all of them)
MAX_ANSWER_BYTES = 8 << 20  # Prometheus' answer; a larger one is refused, not parsed
QUERY_TIMEOUT_S = 5.0  # Prometheus' own evaluation timeout for the query
AT_ONCE = 4  # previews evaluated at once per process
PER_CUSTOMER = 2  # of them for one customer, so one cannot take every slot from the others
# Defaults for what a preview need not say yet (the form is not filled in).
DRAFT = {"alertName": "Preview", "category": "application", "severity": "warning"}

_slots = threading.BoundedSemaphore(AT_ONCE)
_running: dict[str, int] = {}  # customer → previews it has running
_running_lock = threading.Lock()
log = logging.getLogger("alertplane.api")


@dataclass(frozen=True)
class Preview:
    expr: str  # what was evaluated: the expression as admission left it (autoInject)
    firing: int  # series the expression returns now: each would be an alert
    state: str  # "firing", or "pending" while `for` has not passed
    series: list[dict[str, Any]]  # at most MAX_SERIES: {labels, value, annotations?}
    truncated: bool
    # Why annotations are missing from the series ("" when expanded or there are none).
    annotations_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "expr": self.expr,
            "firing": self.firing,
            "state": self.state,
            "series": self.series,
            "truncated": self.truncated,
            "annotationsNote": self.annotations_note,
        }


def prometheus_url(ctx: Context, customer: str) -> str:
    """The Prometheus that evaluates `customer`'s rules: its shard's, else the one
    `serve --prometheus-url` names; Unavailable when there is none."""
    shard = place(customer, ctx.platform.prometheus)
    if shard is not None:
        url = next((s.url for s in ctx.platform.prometheus.shards if s.name == shard), None)
        where = f"prometheus.shards[{shard}].url in the platform config"
    else:
        url = ctx.settings.prometheus_url or (
            ctx.reconciler.settings.prometheus_url if ctx.reconciler is not None else None
        )
        where = "alertplane serve --prometheus-url"
    if not url:
        raise Unavailable(f"no Prometheus to preview against: set {where}")
    return url


def admitted(ctx: Context, access: Access, body: Any) -> CustomerAlert:
    """The spec as a create would admit it (Invalid with its problems otherwise)."""
    draft = {**DRAFT, **body} if isinstance(body, dict) else body
    ref = ObjectRef(ALERT, ctx.writer.namespace_for(access.customer), f"{access.customer}-preview")
    obj, problems = build(ALERT, access.customer, draft, ref, platform=ctx.platform)
    if obj is None or not isinstance(obj, CustomerAlert):
        raise Invalid(problems)
    return obj


def preview(ctx: Context, access: Access, body: Any, timeout_s: float) -> Preview:
    """Admit, then evaluate once; `timeout_s` bounds the whole answer."""
    alert = admitted(ctx, access, body)
    expr = alert.spec.expr
    if expr is None:  # an alert instantiated from a template has its expr by now
        raise Invalid([], "the alert has no expression to evaluate")
    url = prometheus_url(ctx, access.customer)
    with _slot(access.customer):  # covers promtool's expansion of the annotations too
        return _answer(alert, expr, _query(url, expr, timeout_s))


@contextlib.contextmanager
def _slot(customer: str) -> Iterator[None]:
    """One of AT_ONCE slots, at most PER_CUSTOMER of them per customer; never waits."""
    with _running_lock:
        if _running.get(customer, 0) >= PER_CUSTOMER:
            raise Unavailable(
                f"{PER_CUSTOMER} previews of customer {customer} are running; retry in a moment"
            )
        if not _slots.acquire(blocking=False):
            raise Unavailable(f"{AT_ONCE} previews are running; retry in a moment")
        _running[customer] = _running.get(customer, 0) + 1
    try:
        yield
    finally:
        with _running_lock:
            _running[customer] -= 1
            if not _running[customer]:
                del _running[customer]
            _slots.release()


def _query(base: str, expr: str, timeout_s: float) -> dict[str, Any]:
    timeout = min(QUERY_TIMEOUT_S, timeout_s)
    query = urllib.parse.urlencode({"query": expr, "timeout": f"{timeout:g}s"})
    url = f"{base.rstrip('/')}/api/v1/query?{query}"
    try:
        raw = http_read.get(url, timeout_s, MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:  # 400/422/503: Prometheus says why
        raw = exc.read(64 << 10)
        error = _error_of(raw)
        if error is None:
            raise UpstreamFailed(f"Prometheus answered {exc.code}") from exc
        raise UpstreamFailed(f"Prometheus could not evaluate the expression: {error}") from exc
    except http_read.AnswerTooLarge as exc:
        raise UpstreamFailed(
            f"the expression returns too much ({exc}); narrow it down (e.g. topk)"
        ) from exc
    except http_read.AnswerTooSlow as exc:
        raise UpstreamFailed(f"Prometheus did not answer within {timeout_s:g} s") from exc
    except OSError as exc:
        raise UpstreamFailed("Prometheus did not answer; retry later") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UpstreamFailed("Prometheus gave an answer that is not JSON") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        error = _error_of(raw)
        raise UpstreamFailed(f"Prometheus could not evaluate the expression: {error}")
    result = data.get("data")
    return result if isinstance(result, dict) else {}


def _error_of(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else None


def _answer(alert: CustomerAlert, expr: str, data: dict[str, Any]) -> Preview:
    if data.get("resultType") != "vector":
        raise Invalid(
            [],
            f"the expression gives a {data.get('resultType')}, not an instant vector: "
            "an alerting rule needs a vector (compare a series, e.g. 'x > 1')",
        )
    result = [s for s in data.get("result") or [] if isinstance(s, dict)]
    samples = [(_metric(s), _value(s)) for s in result[:MAX_SERIES]]
    series = [{"labels": alert_labels(alert, labels), "value": value} for labels, value in samples]
    note = _annotate(alert, samples, series)
    state = "pending" if alert.spec.for_ else "firing"
    return Preview(expr, len(result), state, series, len(result) > MAX_SERIES, note)


def _metric(sample: dict[str, Any]) -> dict[str, str]:
    metric = sample.get("metric")
    items = metric.items() if isinstance(metric, dict) else ()
    return {str(k): str(v) for k, v in items if k != "__name__"}


def _annotate(
    alert: CustomerAlert, samples: list[tuple[dict[str, str], str]], series: list[dict[str, Any]]
) -> str:
    """Each series' annotations as Prometheus would expand them (preview_expand.py)."""
    if not samples or not alert.spec.annotations.rendered():
        return ""
    try:
        got = expand(alert, samples)
    except ToolError as exc:
        log.warning("preview: %s", exc)
        return "the annotations could not be expanded (promtool failed; see the server log)"
    by_labels = {json.dumps(g["labels"], sort_keys=True): g["annotations"] for g in got}
    for entry in series:
        found = by_labels.get(json.dumps(entry["labels"], sort_keys=True))
        if found is not None:
            entry["annotations"] = found
    if len(samples) > MAX_EXPANDED:
        return f"annotations are expanded for the first {MAX_EXPANDED} series"
    return ""


def _value(sample: dict[str, Any]) -> str:
    value = sample.get("value")
    return str(value[1]) if isinstance(value, list) and len(value) == 2 else ""


def alert_labels(alert: CustomerAlert, metric: dict[str, Any]) -> dict[str, str]:
    """The labels the alert would carry for this series, as Prometheus builds them: the
    series' (without its name), then the rule's, which win (render/rules.py sets them)."""
    out = {str(k): str(v) for k, v in metric.items() if k != "__name__"}
    out.update(alert.spec.rule_labels())
    out["alertname"] = alert.spec.alert_name
    return dict(sorted(out.items()))

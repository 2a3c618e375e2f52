"""The rules of a CustomerSLO a schema cannot express.

- Each SLI query carries `[{{.window}}]` where its range goes and no other template: the
  renderer substitutes each window there as text, so a placeholder anywhere else (inside a
  label value, say) would make the windows select different series. With the placeholder
  confined to a range's brackets, the windows differ only in ranges, and one substitution
  decides isolation for all of them; every rendered expression is checked again anyway.
- Each query passes the isolation check of `spec.expr` (validate/promql.py), reported on
  its own field.
- The alerts' labels and annotations pass an alert's checks (validate/fields.py), on a
  stand-in alert carrying them; labels the SLO's rules set are reserved.
- The period is 7d to 90d: the slowest alert reads 3d; the period's SLI averages every 5m
  ratio of the period, which a longer one makes costly to evaluate.
- promtool's refusals of an SLO's rules land on the SLO's fields (`promtool_problems`), and
  a recording rule may not record an SLO's series (`reserved_record`, validate/recording.py).
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..errors import Problem
from ..model.alert import CustomerAlert, CustomerAlertSpec, Severity
from ..model.common import duration_ms, shown
from ..model.slo import SLO_RESERVED_LABELS, CustomerSLO, CustomerSLOSpec
from ..render.slo import PLACEHOLDER, WINDOWS, alert_expr, rendered_exprs, sli_expr
from .fields import check_alert
from .promql import PATH as EXPR_PATH
from .promql import check_expr
from .promql_limits import MAX_EXPR_CHARS
from .unicode import path_key

MIN_PERIOD, MAX_PERIOD = "7d", "90d"
_QUERIES = (
    ("errorQuery", "error_query"),
    ("goodQuery", "good_query"),
    ("totalQuery", "total_query"),
)
_WINDOW_HINT = "write each range as [{{.window}}], e.g. rate(http_requests_total{...}[{{.window}}])"
# Strings (a `#` in them is text; an unclosed one is the parser's to report) or the start
# of a comment.
_STRINGS_OR_COMMENT = re.compile(
    r'"(?:\\.|[^"\\])*"?'  # "double-quoted", with escapes
    r"|'(?:\\.|[^'\\])*'?"  # 'single-quoted', with escapes
    r"|`[^`]*`?"  # `raw`
    r"|#"
)
_RESERVED_HINTS = {
    "customer_id": "remove it; set spec.customerId",
    "severity": "remove it; the page alert is critical, the ticket alert warning",
    "category": "remove it; set spec.alerting.category",
    "urgency": "remove it",
    "slo": "remove it; alertplane sets it to spec.sloName",
    "slo_window": "remove it; alertplane sets it to each rule's window",
    "slo_severity": "remove it; alertplane sets it to page or ticket",
}


def check_slo(obj: CustomerSLO) -> list[Problem]:
    spec = obj.spec
    problems = _check_period(spec)
    for field, attr in _QUERIES:
        query = getattr(spec.sli.events, attr)
        if query is not None:
            problems.extend(check_query(f"spec.sli.events.{field}", query, spec.customer_id))
    problems.extend(_check_alerting(obj))
    if not problems:
        problems.extend(_check_joined_length(spec))
    if not problems:
        problems.extend(_check_rendered(spec))
    return problems


def _check_period(spec: CustomerSLOSpec) -> list[Problem]:
    period = duration_ms(spec.period)
    if duration_ms(MIN_PERIOD) <= period <= duration_ms(MAX_PERIOD):
        return []
    return [
        Problem(
            "spec.period",
            f"period {shown(spec.period)} is outside {MIN_PERIOD} to {MAX_PERIOD}",
            "the slowest alert reads 3d and the period's ratio averages every 5m ratio in "
            "it: use 7d to 90d (30d is the SRE workbook's)",
        )
    ]


def same_length_window(found: re.Match[str]) -> str:
    """A range as long as the placeholder it replaces, so positions in promql-parser's
    messages point into the query as written: `[{{.window}}]` → `[0000000005m]` (leading
    zeros are valid in Prometheus' durations)."""
    return f"[{'0' * (len(found.group()) - 4)}5m]"


def check_query(path: str, query: str, customer_id: str) -> list[Problem]:
    """The placeholder rules, then the isolation check on the query with a window in it."""
    if "{{" in PLACEHOLDER.sub("", query):
        return [
            Problem(
                path,
                "a query may hold {{.window}} only as a range, [{{.window}}], and no other "
                "template",
                _WINDOW_HINT,
            )
        ]
    if PLACEHOLDER.search(query) is None:
        return [
            Problem(
                path,
                "the query has no [{{.window}}] range: every window would compute the same ratio",
                _WINDOW_HINT,
            )
        ]
    comment = _comment_at(query)
    if comment is not None:
        return [
            Problem(
                path,
                f"a query may not hold a # comment (at character {comment}): the ratio rule "
                "writes the rest of the expression after it on the same line",
                "remove the comment (say it in spec.description)",
            )
        ]
    found = check_expr(PLACEHOLDER.sub(same_length_window, query), customer_id)
    return [replace(p, path=path) if p.path == EXPR_PATH else p for p in found]


def _comment_at(query: str) -> int | None:
    """Where (1-based) a PromQL comment starts outside strings, if one does."""
    for found in _STRINGS_OR_COMMENT.finditer(query):
        if found.group() == "#":
            return found.start() + 1
    return None


def _check_alerting(obj: CustomerSLO) -> list[Problem]:
    """Reserved labels here; the rest of an alert's label and annotation rules on a
    stand-in alert, their paths moved to where the SLO holds them."""
    spec = obj.spec
    problems = []
    labels = {}
    for key, value in spec.alerting.labels.items():
        if key in SLO_RESERVED_LABELS:
            problems.append(
                Problem(
                    f"spec.alerting.labels.{path_key(key)}",
                    f"label {key!r} is set by alertplane",
                    _RESERVED_HINTS[key],
                )
            )
        else:
            labels[key] = value
    annotations = spec.alerting.annotations
    from_description = spec.description is not None and annotations.description is None
    if from_description:
        annotations = annotations.model_copy(update={"description": spec.description})
    stand_in = CustomerAlert(
        api_version="alertplane.io/v1alpha1",
        kind="CustomerAlert",
        metadata=obj.metadata,
        spec=CustomerAlertSpec(
            customer_id=spec.customer_id,
            alert_name=spec.alerting.page_alert_name,
            category=spec.alerting.category,
            severity=Severity.critical,
            expr=alert_expr(spec, "page"),
            labels=labels,
            annotations=annotations,
        ),
    )
    for problem in check_alert(stand_in):
        problems.append(replace(problem, path=_moved(problem.path, from_description)))
    return problems


def _moved(path: str, from_description: bool) -> str:
    if from_description and path == "spec.annotations.description":
        return "spec.description"
    for part in ("labels", "annotations"):
        if path.startswith(f"spec.{part}"):
            return f"spec.alerting.{path.removeprefix('spec.')}"
    return path


def _check_joined_length(spec: CustomerSLOSpec) -> list[Problem]:
    """The ratio rule joins both queries into one expression, which must stay within the
    parser's bound (each query alone passed it)."""
    longest = max(len(sli_expr(spec, w)) for w in WINDOWS)
    if longest <= MAX_EXPR_CHARS:
        return []
    return [
        Problem(
            "spec.sli.events",
            f"the queries are too long together: their ratio has {longest} characters, at "
            f"most {MAX_EXPR_CHARS}",
            "shorten the queries, or record a part of them with a recording rule",
        )
    ]


def _check_rendered(spec: CustomerSLOSpec) -> list[Problem]:
    """Every rendered expression passes the isolation check: defence in depth behind the
    checks of the queries (the renderer's own selectors carry the tenant matcher)."""
    problems = []
    for name, expr in rendered_exprs(spec):
        for found in check_expr(expr, spec.customer_id):
            problems.append(
                Problem(
                    "spec",
                    f"rendered rule {name} fails the isolation check: {found.message}",
                    "this is a bug in alertplane; please report it with the SLO",
                )
            )
    return problems


def promtool_problems(spec: CustomerSLOSpec, found: list[Problem]) -> list[Problem]:
    """promtool's refusals of an SLO's rules on the SLO's own fields: the labels and
    annotations are its alerts' (`spec.alerting.…`; the description `spec.description`),
    an expression is its queries', and each refusal once (both alerts carry the same)."""
    from_description = (
        spec.description is not None and spec.alerting.annotations.description is None
    )
    out: dict[tuple[str, str], Problem] = {}
    for problem in found:
        path = "spec.sli.events" if problem.path == "spec.expr" else problem.path
        moved = replace(problem, path=_moved(path, from_description))
        out.setdefault((moved.path, moved.message), moved)
    return list(out.values())


def reserved_record(record: str, labels: dict[str, str]) -> list[Problem]:
    """A CustomerRecordingRule may not record what an SLO records: an `slo:` record with an
    `slo` label could be the very series (name and labels) of one of the customer's SLO rules,
    and promtool refuses a file that records a series twice — the customer's whole file."""
    if not record.startswith("slo:") or "slo" not in labels:
        return []
    return [
        Problem(
            "spec.labels.slo",
            "label 'slo' on a record in the slo: namespace is reserved: CustomerSLO rules "
            "record these series",
            "remove the label or rename the record; for an SLO's alerts use a CustomerSLO "
            "(docs/slo.md)",
        )
    ]

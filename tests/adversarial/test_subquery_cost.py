"""A subquery's step as a starvation vector on the shared Prometheus. Prometheus evaluates
a subquery as a range query over its range (and the ranges of the subqueries around it)
at its step, on every evaluation of the rule, with no bound but the query timeout (2m): a
customer's `[90d:1ms]` (7.8 billion steps) keeps a core busy for every tenant of that
Prometheus. So no subquery may take more steps than Prometheus lets a range query have
(11,000 points per series), for every kind that carries PromQL (an SLO's queries too)."""

from __future__ import annotations

import pytest

from alertplane.validate.promql import check_expr
from tests.support.problems import lines
from tests.support.slo import slo

X = 'x{customer_id="acme"}'
HINT = (
    "use a longer step or a shorter range, or record the inner expression with a recording "
    "rule and use *_over_time on it"
)


@pytest.mark.parametrize(
    ("expr", "steps", "shown"),
    [
        (f"max_over_time(rate({X}[5m])[90d:1ms])", "7776000000", "[90d:1ms]"),
        # No step: the evaluation interval, 1m unless the platform's Prometheus says less.
        (f"max_over_time({X}[30d:])", "43200", "[30d:]"),
        # Nested: the inner one is evaluated over both ranges at its own step.
        (f"max_over_time(max_over_time({X}[7d:1m])[2d:1h])", "12960", "[7d:1m]"),
    ],
)
def test_a_subquery_with_too_many_steps_is_refused(expr: str, steps: str, shown: str) -> None:
    assert [(p.path, p.message, p.hint) for p in check_expr(expr, "acme")] == [
        (
            "spec.expr",
            f"subquery {shown} evaluates its expression at {int(steps):,} steps on every "
            "evaluation; at most 11,000 (Prometheus' limit for a range query)",
            HINT,
        )
    ]


@pytest.mark.parametrize(
    "expr",
    [
        f"max_over_time(rate({X}[5m])[1h:1m]) > 3",
        f"max_over_time({X}[7d:1m])",
        f"max_over_time({X}[30d:5m])",
        "max_over_time(" * 22 + X + "[5m:])" * 22,
    ],
)
def test_real_subqueries_pass(expr: str) -> None:
    assert check_expr(expr, "acme") == []


def test_an_slo_query_is_bounded_alike() -> None:
    error = f"sum(rate({X}[{{{{.window}}}}])) * max_over_time({X}[90d:1s])"
    (printed,) = lines(
        slo(sli={"events": {"errorQuery": error, "totalQuery": f"sum(rate({X}[{{{{.window}}}}]))"}})
    )
    assert printed.startswith(
        "CustomerSLO acme/acme-checkout: spec.sli.events.errorQuery: subquery [90d:1s] "
        "evaluates its expression at 7,776,000 steps on every evaluation; at most 11,000"
    ), printed

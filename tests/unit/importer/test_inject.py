"""The tenant matcher injected on the parse tree: exact outputs (text kept everywhere but at
the selectors' braces), exact refusals, and generated expressions proven in-process (the
isolation check passes; the tree is the original's plus the matcher). Prometheus' own parser
confirms the same in tests/integration/test_import_oracle.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.importer.inject import Refused, _without_tenant, inject
from alertplane.validate.promql import check_expr
from tests.integration.test_isolation_promql_generated import Expr, Selector, expressions
from tests.support.promql_cases import NO_SERIES

CASES = [
    ("up == 0", 'up{customer_id="acme"} == 0'),
    ("up{}", 'up{customer_id="acme"}'),
    ('up{job="a"}', 'up{job="a",customer_id="acme"}'),
    ('up{job="a", env="b"}', 'up{job="a", env="b", customer_id="acme"}'),
    ('up{job="a",}', 'up{job="a",customer_id="acme"}'),
    ('{__name__="up"}', '{__name__="up",customer_id="acme"}'),
    ('up{customer_id="acme"} + down', 'up{customer_id="acme"} + down{customer_id="acme"}'),
    ("rate(x[5m] offset 1h @ end())", 'rate(x{customer_id="acme"}[5m] offset 1h @ end())'),
    ("max_over_time(x[1h:5m])", 'max_over_time(x{customer_id="acme"}[1h:5m])'),
    (
        "sum by (job) (rate(a[5m])) / on(job) group_left sum(b) without (i)",
        'sum by (job) (rate(a{customer_id="acme"}[5m])) / on(job) group_left '
        'sum(b{customer_id="acme"}) without (i)',
    ),
    (
        'a and b # a comment with up{x}\n  unless {__name__="c"}',
        'a{customer_id="acme"} and b{customer_id="acme"} # a comment with up{x}\n'
        '  unless {__name__="c",customer_id="acme"}',
    ),
    (
        'label_replace(up, "a", "$1", "b", "up{(.*)}")',
        'label_replace(up{customer_id="acme"}, "a", "$1", "b", "up{(.*)}")',
    ),
    ('count_values("sum", sum)', 'count_values("sum", sum{customer_id="acme"})'),
    ("topk(3, rate(x[5m])) > bool 1", 'topk(3, rate(x{customer_id="acme"}[5m])) > bool 1'),
    ("time() - start > Inf", 'time() - start{customer_id="acme"} > Inf'),
    ("sum by (a) (sum) > sum", 'sum by (a) (sum{customer_id="acme"}) > sum{customer_id="acme"}'),
    ("holt_winters(x[1h], 0.5, 0.5)", 'holt_winters(x{customer_id="acme"}[1h], 0.5, 0.5)'),
    ("-x", '-x{customer_id="acme"}'),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_the_matcher_goes_into_every_selector_and_nothing_else_changes(
    expr: str, expected: str
) -> None:
    assert inject(expr, "acme") == expected
    assert inject(expected, "acme") == expected  # idempotent


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("vector(1)", NO_SERIES),
        ("1 > bool 0", NO_SERIES),
        ("time()", NO_SERIES),
        ('up{customer_id="globex"}', 'selector up{customer_id="globex"} selects customer "globex"'),
        ('up{customer_id=~"acme"}', 'selector up{customer_id=~"acme"} matches customer_id with =~'),
        ('up{customer_id!="x"}', 'selector up{customer_id!="x"} matches customer_id with !='),
        ('up{customer_id!~"x"}', 'selector up{customer_id!~"x"} matches customer_id with !~'),
        (
            'up{customer_id="acme", customer_id="b"}',
            'selector up{customer_id="acme",customer_id="b"} selects customer "b"',
        ),
        ("sum(", "invalid PromQL at 1:5: unclosed left parenthesis"),
        (
            'up{a="1" or b="2"}',
            "a selector with `or` inside its braces is not supported by Prometheus 2.42; "
            "write two selectors joined by `or`",
        ),
    ],
)
def test_what_cannot_be_isolated_is_refused_with_the_reason(expr: str, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        inject(expr, "acme")
    assert str(refused.value).startswith(reason), str(refused.value)


def test_a_too_long_expression_is_refused_not_parsed() -> None:
    with pytest.raises(Refused) as refused:
        inject("abs(" * 5000 + "up" + ")" * 5000, "acme")
    assert str(refused.value) == "expression is 25002 characters long; the limit is 16384"


def test_the_proof_sees_a_changed_tree() -> None:
    """_prove's comparison is not blind: any change other than the matcher shows."""
    same = _without_tenant('up{job="a"}', "acme")
    assert same == _without_tenant('up{job="a",customer_id="acme"}', "acme")
    assert same != _without_tenant('up{job="b",customer_id="acme"}', "acme")
    assert same != _without_tenant('up{job="a",customer_id="other"}', "acme")
    assert _without_tenant("up", "a") == _without_tenant('up{customer_id="a"}', "a")
    assert _without_tenant("up", "a") != _without_tenant("up offset 1m", "a")


@st.composite
def untenanted(draw: st.DrawFn) -> tuple[str, Expr]:
    own, expr = draw(expressions())
    parts = tuple(
        replace(p, tenant=()) if isinstance(p, Selector) and draw(st.booleans()) else p
        for p in expr.parts
    )
    return own, Expr(parts, expr.atomic)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(untenanted())
def test_generated_expressions_come_out_isolated_with_the_same_tree(case: tuple[str, Expr]) -> None:
    own, expr = case
    text = expr.text()
    if not expr.selectors():
        with pytest.raises(Refused, match=NO_SERIES):
            inject(text, own)
        return
    out = inject(text, own)
    assert check_expr(out, own) == []
    assert _without_tenant(out, own) == _without_tenant(text, own)
    assert len(out) - len(text) <= len(expr.selectors()) * len(f', customer_id="{own}"{{}}')

"""PromQL problems name line:column in the expression, and what is wrong there; what
Prometheus 2.42 accepts and promql-parser alone would refuse is accepted.

The table of common typos (tests/support/promql_typos.py) holds the exact messages; that
promtool refuses each of them, and where it says the problem is, is checked in
tests/integration/test_promql_promtool_agreement.py.
"""

from __future__ import annotations

import pytest

from alertplane.validate import promql_position
from alertplane.validate.promql import _refusal, check_expr, has_detail, selectors_of
from alertplane.validate.promql_position import BUDGET, BUDGET_FLOOR, MAX_LOCATE, locate
from alertplane.validate.promql_rewrite import for_parser
from tests.support.promql_typos import PROMTOOL_ONLY, TYPOS, T

HINT = "fix the expression; it must be valid Prometheus PromQL"


@pytest.mark.parametrize("name", list(TYPOS))
def test_a_common_typo_is_named_with_its_position(name: str) -> None:
    typo = TYPOS[name]
    ((problem,),) = [check_expr(typo.expr, "acme")]
    assert (problem.path, problem.message, problem.hint) == ("spec.expr", typo.message, HINT)


def test_the_typo_table_is_the_size_the_issue_names() -> None:
    # Issue 14: "9 of 22 common typos get only `invalid PromQL: invalid promql query`".
    assert len(TYPOS) >= 22
    assert not [t for t in TYPOS.values() if "invalid promql query" in t.message]


@pytest.mark.parametrize(
    "expr",
    [
        f"up{{{T},job=~`.*\\.svc`}}",  # a raw string with a backslash
        f'up{{{T},job=~`a"b`}} > 0',  # a raw string with a double quote
        f"up{{{T},job=~`line\none`}}",  # a raw string across lines
        f"up{{{T},job!~`\\d+`}}",
        f"x{{{T}}} @ end()[1d]",
        f"rate(x{{{T}}} @ start()[5m])",
        f"max_over_time(x{{{T}}} @ end() [1h])",
        f"x{{{T}}} @ END()[1d]",
        f"x{{{T}}} @ end()[1d:5m]",  # a subquery: promql-parser reads it as it is
        f"holt_winters(x{{{T}}}[1h], 0.5, 0.5)",
    ],
)
def test_what_prometheus_2_42_accepts_is_accepted(expr: str) -> None:
    assert check_expr(expr, "acme") == []


def test_the_rewrites_keep_every_selector() -> None:
    expr = f"rate(x{{{T},job=~`.*\\.svc`}} @ end()[1d]) + y{{{T}}}"
    assert for_parser(expr) == f'rate(x{{{T},job=~".*\\\\.svc"}} [1d] @ end()) + y{{{T}}}'
    assert selectors_of(expr) == [
        'x{customer_id="acme",job=~".*\\.svc"} @ end()',
        'y{customer_id="acme"}',
    ]


def test_a_raw_string_is_checked_for_the_tenant_like_any_other() -> None:
    ((problem,),) = [check_expr("x{customer_id=`globex`}", "acme")]
    assert problem.message == 'selector x{customer_id="globex"} selects customer "globex"'


def test_a_timestamp_before_a_range_stays_refused() -> None:
    # Prometheus 2.42 refuses `x @ 100[1d]` ("no @ modifiers allowed before range", at the
    # `[`); here it is found at the `]` (`x @ 100[1d:]` would be a valid subquery).
    ((problem,),) = [check_expr(f"x{{{T}}} @ 100[1d]", "acme")]
    assert problem.message == "invalid PromQL at 1:31: no @ modifiers allowed before range"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "rate(x[5m]) + rate(y)",
            "invalid PromQL at 1:15: expected type matrix in call to function 'rate', got vector",
        ),
        (
            "sum(x[5m] > 1)",
            "invalid PromQL at 1:5: binary expression must contain only scalar and instant "
            "vector types",
        ),
        ("1 > 2", "invalid PromQL at 1:1: comparisons between scalars must use BOOL modifier"),
        (
            "holt_winters(x[5m], 0.5)",
            "invalid PromQL at 1:1: expected 3 argument(s) in call to 'holt_winters', got 2",
        ),
        ("x +\n  rat(y)", "invalid PromQL at 2:3: unknown function with name 'rat'"),
        ("x\n  # a comment\n  + > 1", "invalid PromQL at 3:5: unexpected '>'"),
    ],
)
def test_type_errors_and_lines(expr: str, message: str) -> None:
    assert [p.message for p in check_expr(expr, "acme")] == [message]


def test_an_expression_too_long_to_search_keeps_the_parser_s_words() -> None:
    body = " + ".join(f'x{i}{{{T},job="{"a" * 20}"}}' for i in range(50))
    expr = f"({body}) by (job)"
    assert len(expr) > MAX_LOCATE
    assert [p.message for p in check_expr(expr, "acme")] == ["invalid PromQL: invalid promql query"]
    assert not has_detail(expr)  # so promtool's message, with its position, is shown


def test_has_detail() -> None:
    assert has_detail(f"sum(x{{{T}}}")  # "unclosed left parenthesis" at a position
    assert not has_detail(f"sum by job (x{{{T}}})")  # promql-parser: "invalid promql query"
    assert not has_detail(f"x{{{T}}}")  # valid
    assert not has_detail(PROMTOOL_ONLY["duration without a unit"])  # promql-parser accepts


def test_the_search_parses_a_bounded_multiple_of_the_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused expression costs at most BUDGET parses of itself (plus a floor): a body of
    refused expressions cannot cost much more than one of valid ones."""
    parsed: list[int] = []

    def counting(text: str) -> str | None:
        parsed.append(len(text))
        return _refusal(text)

    body = " + ".join(f"sum by (job) (rate(x{i}{{{T}}}[5m]))" for i in range(25))
    for expr in (f"{body} by (job)", f"{body} > > 1", f"topk(x{{{T}}}, 5) + {body}"):
        parsed.clear()
        message = _refusal(expr)
        assert message is not None
        where = locate(expr, message, counting)
        assert where is not None and sum(parsed) <= BUDGET * len(expr) + BUDGET_FLOOR
    # Out of budget: no position (promtool's message has it), never a longer search.
    monkeypatch.setattr(promql_position, "BUDGET", 1)
    monkeypatch.setattr(promql_position, "BUDGET_FLOOR", 0)
    parsed.clear()
    assert locate(f"{body} by (job)", "invalid promql query", counting) is None
    assert sum(parsed) <= len(body) + len(" by (job)")

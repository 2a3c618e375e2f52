"""CustomerSLO rendering (render/slo.py): windows, burn-rate factors, numbers, labels,
annotations and the isolation of every rendered expression. That the alerts fire as
contracted is proven on promtool: tests/integration/test_slo_promtool.py."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.model.slo import CustomerSLOSpec
from alertplane.render.slo import (
    BURNS,
    WINDOWS,
    error_budget,
    number,
    rendered_exprs,
    slo_group,
    slo_groups,
)
from alertplane.validate.promql import check_expr
from alertplane.validate.template_queries import check_template_queries
from tests.support.slo import slo_obj


def _spec(**kw: object) -> CustomerSLOSpec:
    return slo_obj(**kw).spec


def _factors(period: str) -> list[str]:
    return [number(b.factor(period)) for b in BURNS]


def test_the_workbook_factors_for_30d() -> None:
    assert _factors("30d") == ["14.4", "6", "3", "1"]
    assert [(b.alert, b.long, b.short) for b in BURNS] == [
        ("page", "1h", "5m"),
        ("page", "6h", "30m"),
        ("ticket", "1d", "2h"),
        ("ticket", "3d", "6h"),
    ]


def test_factors_scale_with_the_period_as_budget_shares() -> None:
    # Sloth's 28d window set: the same budget shares (2 %, 5 %, 10 %, 10 %).
    assert _factors("28d") == ["13.44", "5.6", "2.8", "0.933333"]
    assert _factors("7d") == ["3.36", "1.4", "0.7", "0.233333"]


@pytest.mark.parametrize(
    ("objective", "budget"),
    [(99.9, "0.001"), (99.95, "0.0005"), (99.99, "0.0001"), (99.0, "0.01"), (50, "0.5")],
)
def test_error_budget_is_exact_for_the_objective_as_written(objective: float, budget: str) -> None:
    assert number(error_budget(_spec(objective=objective))) == budget


def test_numbers() -> None:
    assert number(Fraction(144, 10)) == "14.4"
    assert number(Fraction(6)) == "6"
    assert number(Fraction(7, 30)) == "0.233333"
    assert number(Decimal("1E-5")) == "0.00001"


def test_the_group_records_every_window_then_the_period_then_alerts() -> None:
    group = slo_group(_spec())
    assert group["name"] == "acme-slo-checkout"
    names = [r.get("record") or r.get("alert") for r in group["rules"]]
    assert names == [
        *(f"slo:sli_error:ratio_rate{w}" for w in WINDOWS),
        "slo:sli_error:ratio_rate30d",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "CheckoutBudgetBurn",
        "CheckoutBudgetBurn",
    ]
    first = group["rules"][0]
    assert first["expr"] == (
        '(sum(rate(http_requests_total{customer_id="acme", code=~"5.."}[5m])))\n/\n'
        '(sum(rate(http_requests_total{customer_id="acme"}[5m])))'
    )
    assert first["labels"] == {"customer_id": "acme", "slo": "checkout", "slo_window": "5m"}


def test_good_query_is_turned_into_an_error_ratio() -> None:
    good = 'sum(rate(ok_total{customer_id="acme"}[{{ .window }}]))'
    events = {
        "goodQuery": good,
        "totalQuery": 'sum(rate(all_total{customer_id="acme"}[{{.window}}]))',
    }
    rule = slo_group(_spec(sli={"events": events}))["rules"][1]
    assert rule["expr"] == (
        '1 - (\n  (sum(rate(ok_total{customer_id="acme"}[30m])))\n  /\n'
        '  (sum(rate(all_total{customer_id="acme"}[30m])))\n)'
    )


def test_page_alert_expression() -> None:
    page = slo_group(_spec())["rules"][-2]
    sel = '{customer_id="acme", slo="checkout"}'
    assert page["expr"] == (
        f"(\n  max(slo:sli_error:ratio_rate5m{sel} > (14.4 * 0.001)) without (slo_window)\n"
        f"  and\n  max(slo:sli_error:ratio_rate1h{sel} > (14.4 * 0.001)) without (slo_window)\n)"
        f"\nor\n(\n  max(slo:sli_error:ratio_rate30m{sel} > (6 * 0.001)) without (slo_window)\n"
        f"  and\n  max(slo:sli_error:ratio_rate6h{sel} > (6 * 0.001)) without (slo_window)\n)"
    )


def test_alert_labels_and_annotations() -> None:
    alerting = {
        "pageAlertName": "Page",
        "ticketAlertName": "Ticket",
        "category": "infrastructure",
        "labels": {"team": "shop"},
        "annotations": {"summary": "mine", "runbookUrl": "https://r.example.com/slo"},
    }
    page, ticket = slo_group(_spec(alerting=alerting, description="Checkout works"))["rules"][-2:]
    assert page["labels"] == {
        "category": "infrastructure",
        "customer_id": "acme",
        "severity": "critical",
        "slo": "checkout",
        "slo_severity": "page",
        "team": "shop",
    }
    assert ticket["labels"]["severity"] == "warning"
    assert ticket["labels"]["slo_severity"] == "ticket"
    assert page["annotations"] == {
        "burn_rate_thresholds": "14.4× over 1h and 5m, or 6× over 6h and 30m",
        "description": "Checkout works",
        "error_budget": "0.1% of events over 30d",
        "error_budget_remaining": "{{ with query `slo:period_error_budget_remaining:ratio"
        '{customer_id="acme", slo="checkout"}` }}{{ . | first | value | humanizePercentage }}'
        "{{ else }}unknown{{ end }}",
        "objective": "99.9%",
        "runbook_url": "https://r.example.com/slo",
        "summary": "mine",
    }
    assert ticket["annotations"]["burn_rate_thresholds"] == (
        "3× over 1d and 2h, or 1× over 3d and 6h"
    )


def test_the_budget_annotation_passes_the_template_query_check() -> None:
    page = slo_group(_spec())["rules"][-2]
    text = page["annotations"]["error_budget_remaining"]
    assert check_template_queries("a", text, "acme") == []
    assert check_template_queries("a", text, "globex") != []


def test_only_enabled_slos_of_the_customer_by_name() -> None:
    specs = [
        _spec(name="b"),
        _spec(name="a"),
        _spec(name="off", enabled=False),
        slo_obj("globex", "c").spec,
    ]
    assert [g["name"] for g in slo_groups("acme", specs)] == ["acme-slo-a", "acme-slo-b"]


_ids = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(
    customer=_ids,
    name=_ids,
    days=st.integers(7, 90),
    objective=st.floats(1, 99.999, allow_nan=False),
)
def test_every_rule_is_the_customers(customer: str, name: str, days: int, objective: float) -> None:
    spec = slo_obj(customer, name, period=f"{days}d", objective=objective).spec
    group = slo_group(spec)
    for rule in group["rules"]:
        assert rule["labels"]["customer_id"] == customer
        assert rule["labels"]["slo"] == name
    for rule_name, expr in rendered_exprs(spec):
        assert check_expr(expr, customer) == [], (rule_name, expr)

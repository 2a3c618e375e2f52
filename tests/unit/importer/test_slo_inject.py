"""autoInject on a CustomerSLO (importer/slo_inject.py): the tenant matcher is added around
the `[{{.window}}]` placeholders, and what the injector refuses stays as written."""

from __future__ import annotations

import pytest

from alertplane.importer.slo_inject import inject_query, slo_auto_injected
from alertplane.validate.slo import check_query
from tests.support.slo import slo_obj


def test_injected_around_the_placeholder() -> None:
    query = 'sum(rate(http_requests_total{code=~"5.."}[{{ .window }}])) / 2'
    assert inject_query(query, "acme") == (
        'sum(rate(http_requests_total{code=~"5..",customer_id="acme"}[{{.window}}])) / 2'
    )


def test_a_range_like_the_stand_in_is_kept() -> None:
    query = "sum(rate(a[7s])) + sum(rate(b[{{.window}}]))"
    done = inject_query(query, "acme")
    assert done == (
        'sum(rate(a{customer_id="acme"}[7s])) + sum(rate(b{customer_id="acme"}[{{.window}}]))'
    )
    assert check_query("q", done, "acme") == []


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate(e{customer_id="globex"}[{{.window}}]))',  # another customer's
        'sum(rate(e{customer_id=~"a.*"}[{{.window}}]))',  # a regex on customer_id
        'sum(rate(e{job="{{.window}}"}[{{.window}}]))',  # a template outside a range
        "vector(1)",  # no selector
    ],
)
def test_refused_queries_stay_as_written(query: str) -> None:
    assert inject_query(query, "acme") == query


def test_only_with_auto_inject() -> None:
    events = {
        "errorQuery": "sum(rate(e[{{.window}}]))",
        "totalQuery": 'sum(rate(t{customer_id="acme"}[{{.window}}]))',
    }
    off = slo_obj(sli={"events": events})
    assert slo_auto_injected(off) is off
    on = slo_auto_injected(slo_obj(sli={"events": events}, autoInject=True))
    assert on.spec.sli.events.error_query == 'sum(rate(e{customer_id="acme"}[{{.window}}]))'
    assert on.spec.sli.events.total_query == events["totalQuery"]

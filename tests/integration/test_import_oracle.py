"""The injector against Prometheus' own parser (hack/promql-ast, Prometheus v0.305.0):
on hypothesis-generated expressions and on a real-world corpus, Prometheus sees exactly the
original tree plus `customer_id="<id>"` on every selector, and the text changed only by
inserting that matcher. The generator is the isolation tests' (every PromQL shape they
cover), with the tenant matchers taken out (or, at random, left in place)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.importer.inject import Refused, inject
from tests.integration.test_isolation_promql_generated import Expr, Selector, expressions
from tests.support.import_corpus import corpus_exprs
from tests.support.promql_cases import NO_SERIES
from tests.support.promql_oracle import Oracle, with_tenant


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    one = Oracle()
    yield one
    one.close()


def only_inserted(before: str, after: str, customer: str) -> bool:
    """`after` is `before` with matcher texts inserted, and nothing else changed."""
    matcher = f'customer_id="{customer}"'
    inserts = [f"{{{matcher}}}", f", {matcher}", f",{matcher}", matcher]
    i = j = 0
    while j < len(after):
        if i < len(before) and before[i] == after[j]:
            i, j = i + 1, j + 1
            continue
        ins = next((s for s in inserts if after.startswith(s, j)), None)
        if ins is None:
            return False
        j += len(ins)
    return i == len(before)


@st.composite
def untenanted(draw: st.DrawFn) -> tuple[str, Expr]:
    """A generated expression whose selectors mostly lack the tenant matcher."""
    own, expr = draw(expressions())
    parts = tuple(
        replace(p, tenant=()) if isinstance(p, Selector) and draw(st.integers(0, 3)) else p
        for p in expr.parts
    )
    return own, Expr(parts, expr.atomic)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(untenanted())
def test_prometheus_sees_the_original_tree_plus_the_matcher_on_every_selector(
    oracle: Oracle, case: tuple[str, Expr]
) -> None:
    own, expr = case
    text = expr.text()
    if not expr.selectors():
        with pytest.raises(Refused, match=NO_SERIES):
            inject(text, own)
        return
    out = inject(text, own)
    before, after = oracle.tree(text), oracle.tree(out)
    if "error" in before:  # Prometheus 3 dropped holt_winters; 2.42 (promtool) has it
        assert "holt_winters" in text, before
        return
    assert after == {"ast": with_tenant(before["ast"], own)}, (text, out)
    assert only_inserted(text, out, own), (text, out)
    assert inject(out, own) == out  # idempotent: nothing left to add


def test_the_corpus_expressions_too(oracle: Oracle) -> None:
    exprs = corpus_exprs()
    assert len(exprs) >= 60, "the corpus holds the Thanos and prometheus-operator rules"
    refused = []
    for text in exprs:
        try:
            out = inject(text, "acme")
        except Refused as exc:
            refused.append((text, str(exc)))
            continue
        before = oracle.tree(text)
        assert "ast" in before, (text, before)
        assert oracle.tree(out) == {"ast": with_tenant(before["ast"], "acme")}, (text, out)
        assert only_inserted(text, out, "acme"), (text, out)
    # Exactly what Prometheus sees no selector in (`vector(1)`, `1`) cannot be isolated.
    assert [t for t, _ in refused] == [
        t for t in exprs if '"selector"' not in str(json.dumps(oracle.tree(t)))
    ]
    assert refused and all(NO_SERIES in why for _, why in refused)


def test_only_inserted_catches_any_other_change() -> None:
    assert only_inserted("up", 'up{customer_id="a"}', "a")
    assert not only_inserted("up", 'up{customer_id="b"}', "a")
    assert not only_inserted("up == 0", 'up{customer_id="a"} == 1', "a")
    assert not only_inserted("up  == 0", 'up{customer_id="a"} == 0', "a")

"""Tenant isolation on the PromQL AST, on generated expressions: hypothesis builds random
expressions whose verdict is known by construction (every selector safe -> accepted; bad
selectors injected anywhere -> rejected, each named), and the real promtool confirms that
what was generated is PromQL Prometheus 2.42 parses. The tables are in
test_isolation_promql.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from alertplane.validate.promql import selectors_of
from tests.support.promql_cases import (
    NO_SERIES,
    promtool_accepts,
    verdict,
)

# ---------------------------------------------------------------------------------------
# Generated expressions, verdict known by construction.
# ---------------------------------------------------------------------------------------

CUSTOMERS = ["acme", "globex", "a", "tenant-42"]
METRICS = ["up", "http_requests_total", "job:errors:rate5m", "node_load1", "m_0", "sum_total"]
OTHER_LABELS = ["job", "instance", "service", "code", "env"]
OTHER_VALUES = {
    "=": ["api", "prod", "", "a b", "x-y", "10.0.0.1:9100"],
    "!=": ["dev", "", "canary"],
    "=~": ["5..", "a.*", "b|c", ".+", ""],
    "!~": ["test.*", "", "x|y"],
}
RANGES = ["30s", "1m", "5m", "1h", "1h30m", "1d"]
OFFSETS = ["5m", "1h", "-5m", "1h30m", "30s", "1d", "1w"]
ATS = [
    ("100", "100.000"),
    ("1700000000", "1700000000.000"),
    ("1.5", "1.500"),
    ("start()", "start()"),
    ("end()", "end()"),
]


SEL = "\0SEL\0"  # stands for the selector as the message shows it


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str
    quote: str = '"'
    space: str = ""

    def text(self) -> str:
        q = self.quote
        return f"{self.label}{self.space}{self.op}{self.space}{q}{self.value}{q}"

    def shown(self) -> str:
        return f"{self.label}{self.op}{json.dumps(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A vector selector (or the selector inside a matrix selector) and its verdict."""

    name: str | None
    others: tuple[Matcher, ...]  # non-tenant matchers (may include __name__)
    tenant: tuple[tuple[int, Matcher], ...]  # (insert position, matcher)
    expected: tuple[str, ...]  # messages, given the display; filled by kind
    kind: str
    range_: str | None = None
    at: tuple[str, str] | None = None
    offset: str | None = None
    at_first: bool = False
    sep: str = ","

    def matchers(self) -> list[Matcher]:
        out = list(self.others)
        for pos, m in self.tenant:
            out.insert(min(pos, len(out)), m)
        return out

    def text(self) -> str:
        body = self.sep.join(m.text() for m in self.matchers())
        out = f"{self.name or ''}{{{body}}}"
        if self.range_ is not None:
            out += f"[{self.range_}]"
        mods = []
        if self.offset is not None:
            mods.append(f" offset {self.offset}")
        if self.at is not None:
            mods.insert(0 if self.at_first else len(mods), f" @ {self.at[0]}")
        return out + "".join(mods)

    def shown(self) -> str:
        out = f"{self.name or ''}{{{','.join(m.shown() for m in self.matchers())}}}"
        if self.at is not None:
            out += f" @ {self.at[1]}"
        if self.offset is not None:
            out += f" offset {self.offset}"
        return out

    def messages(self) -> list[str]:
        return [m.replace(SEL, self.shown()) for m in self.expected]


def good_tenant(own: str) -> st.SearchStrategy[tuple[tuple[Matcher, ...], tuple[str, ...]]]:
    one = st.builds(
        lambda q, s: Matcher("customer_id", "=", own, q, s),
        st.sampled_from(['"', "'", "`"]),
        st.sampled_from(["", " "]),
    )
    return st.tuples(st.one_of(st.tuples(one), st.tuples(one, one)), st.just(()))


def foreign_ids(own: str) -> list[str]:
    return sorted({c for c in CUSTOMERS if c != own} | {own + "-2", own.upper(), own + " ", ""})


def bad_tenant(own: str) -> st.SearchStrategy[tuple[tuple[Matcher, ...], tuple[str, ...]]]:
    """A tenant matcher set that must be rejected, with its expected message templates."""
    foreigners = st.sampled_from(foreign_ids(own))
    eq_own = Matcher("customer_id", "=", own)
    miss = f'selector {SEL} has no customer_id="{own}" matcher'

    def with_op(o: str) -> str:
        return f"selector {SEL} matches customer_id with {o}"

    def selects(v: str) -> str:
        return f"selector {SEL} selects customer {json.dumps(v)}"

    kinds = [
        st.just(((), (miss,))),
        st.sampled_from(["=~", "!=", "!~"]).flatmap(
            lambda o: st.sampled_from([own, ".*", ".+", own + "|other"]).map(
                lambda v: ((Matcher("customer_id", o, v),), (with_op(o),))
            )
        ),
        foreigners.map(lambda v: ((Matcher("customer_id", "=", v),), (selects(v),))),
        # Duplicated: the own id plus another one (either order, see positions).
        foreigners.map(lambda v: ((eq_own, Matcher("customer_id", "=", v)), (selects(v),))),
        st.sampled_from(["=~", "!="]).map(
            lambda o: (
                (eq_own, Matcher("customer_id", o, ".*" if o == "=~" else "x")),
                (with_op(o),),
            )
        ),
    ]
    return st.one_of(kinds)


@st.composite
def selectors(draw: st.DrawFn, own: str, matrix: bool = False) -> Selector:
    name = draw(st.one_of(st.none(), st.sampled_from(METRICS)))
    others = []
    if name is None:
        # A selector needs a non-empty matcher; __name__ keeps that true for any verdict.
        others.append(
            draw(
                st.sampled_from(
                    [Matcher("__name__", "=", "up"), Matcher("__name__", "=~", "http_.+")]
                )
            )
        )
    for label in draw(st.lists(st.sampled_from(OTHER_LABELS), max_size=3, unique=True)):
        o = draw(st.sampled_from(sorted(OTHER_VALUES)))
        others.append(Matcher(label, o, draw(st.sampled_from(OTHER_VALUES[o]))))
    others = draw(st.permutations(others))
    tenant, expected = draw(good_tenant(own))
    positions = draw(st.lists(st.integers(0, 4), min_size=len(tenant), max_size=len(tenant)))
    return Selector(
        name=name,
        others=tuple(others),
        tenant=tuple(zip(positions, tenant, strict=True)),
        expected=expected,
        kind="good",
        range_=draw(st.sampled_from(RANGES)) if matrix else None,
        at=draw(st.one_of(st.none(), st.sampled_from(ATS))),
        offset=draw(st.one_of(st.none(), st.sampled_from(OFFSETS))),
        at_first=draw(st.booleans()),
        sep=draw(st.sampled_from([",", ", ", " , ", ",\n  "])),
    )


@dataclass(frozen=True)
class Expr:
    parts: tuple[str | Selector, ...]
    atomic: bool = True  # safe as an operand without parentheses

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.parts)

    def selectors(self) -> list[Selector]:
        return [p for p in self.parts if isinstance(p, Selector)]

    def expected(self) -> list[str]:
        if not self.selectors():
            return [NO_SERIES]
        return list(dict.fromkeys(m for s in self.selectors() for m in s.messages()))


def cat(*items: str | Selector | Expr, atomic: bool = False) -> Expr:
    parts: list[str | Selector] = []
    for item in items:
        parts.extend(item.parts if isinstance(item, Expr) else [item])
    return Expr(tuple(parts), atomic)


def operand(e: Expr) -> Expr:
    return e if e.atomic else cat("(", e, ")", atomic=True)


RANGE_FUNCS = [
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "changes",
    "resets",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "stddev_over_time",
    "present_over_time",
    "absent_over_time",
]
VECTOR_FUNCS = ["abs", "ceil", "floor", "exp", "ln", "sqrt", "sgn", "sort_desc", "timestamp"]
AGGREGATIONS = ["sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"]
ARITH = ["+", "-", "*", "/", "%", "^"]
COMPARE = ["==", "!=", ">", "<", ">=", "<="]
SPACE = st.sampled_from([" ", "  ", "\n", " \n  "])


@st.composite
def scalars(draw: st.DrawFn, own: str, depth: int) -> Expr:
    choice = draw(st.integers(0, 5 if depth > 0 else 1))
    if choice == 0:
        return cat(draw(st.sampled_from(["1", "0.5", "100", "2e3", "0"])), atomic=True)
    if choice == 1:
        return cat(draw(st.sampled_from(["time()", "pi()"])), atomic=True)
    if choice in (2, 3):
        return cat("scalar(", draw(vectors(own, depth - 1)), ")", atomic=True)
    if choice == 4:
        a, b = draw(scalars(own, depth - 1)), draw(scalars(own, depth - 1))
        return cat(operand(a), f" {draw(st.sampled_from(ARITH))} ", operand(b))
    return cat("-", operand(draw(scalars(own, depth - 1))))


@st.composite
def ranges(draw: st.DrawFn, own: str, depth: int) -> Expr:
    if depth <= 0 or draw(st.integers(0, 3)) > 0:
        return cat(draw(selectors(own, matrix=True)), atomic=True)
    inner = draw(vectors(own, depth - 1))
    step = draw(st.sampled_from(["", "1m", "30s"]))
    out = cat("(", inner, f")[{draw(st.sampled_from(RANGES))}:{step}]", atomic=True)
    if draw(st.booleans()):
        out = cat(out, f" offset {draw(st.sampled_from(OFFSETS))}", atomic=True)
    if draw(st.booleans()):
        out = cat(out, f" @ {draw(st.sampled_from(ATS))[0]}", atomic=True)
    return out


def matching(draw: st.DrawFn, grouping: bool) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return ""
    clause = f"{'on' if kind == 1 else 'ignoring'} ({draw(st.sampled_from(OTHER_LABELS))}) "
    if grouping and draw(st.booleans()):
        side = draw(st.sampled_from(["group_left", "group_right"]))
        clause += f"{side} ({draw(st.sampled_from(['team', 'owner']))}) "
    return clause


@st.composite
def vectors(draw: st.DrawFn, own: str, depth: int) -> Expr:
    if depth <= 0:
        if draw(st.integers(0, 9)) == 9:  # rarely, and never in the simplest example
            return cat("vector(", draw(scalars(own, 0)), ")", atomic=True)
        return cat(draw(selectors(own)), atomic=True)
    # Binary operators are weighted up so that expressions hold several selectors.
    choice = draw(st.integers(0, 15))
    sub = vectors(own, depth - 1)
    sp = draw(SPACE)
    if choice == 0:
        return draw(vectors(own, 0))
    if choice == 1:
        f = draw(st.sampled_from(RANGE_FUNCS))
        return cat(f"{f}(", draw(ranges(own, depth)), ")", atomic=True)
    if choice == 2:
        f = draw(st.sampled_from(["quantile_over_time", "predict_linear", "holt_winters"]))
        s, r = draw(scalars(own, depth - 1)), draw(ranges(own, depth))
        args: tuple[str | Expr, ...] = (s, ", ", r) if f == "quantile_over_time" else (r, ", ", s)
        if f == "holt_winters":  # smoothing and trend factors, both scalars
            args = (*args, ", ", draw(scalars(own, depth - 1)))
        return cat(f"{f}(", *args, ")", atomic=True)
    if choice == 3:
        f = draw(st.sampled_from([*VECTOR_FUNCS, "absent", "clamp_max", "round", "hq"]))
        v = draw(sub)
        if f in ("clamp_max", "round"):
            return cat(f"{f}(", v, ", ", draw(scalars(own, depth - 1)), ")", atomic=True)
        if f == "hq":
            s = draw(scalars(own, depth - 1))
            return cat("histogram_quantile(", s, ", ", v, ")", atomic=True)
        return cat(f"{f}(", v, ")", atomic=True)
    if choice == 4:
        v = draw(sub)
        if draw(st.booleans()):
            return cat("label_replace(", v, ', "dst", "$1", "src", "(.*)")', atomic=True)
        return cat("label_join(", v, ', "dst", ",", "a", "b")', atomic=True)
    if choice in (5, 6):
        agg = draw(st.sampled_from(AGGREGATIONS))
        clause = draw(st.sampled_from(["", "by (job) ", "without (instance) "]))
        if clause and draw(st.booleans()):
            return cat(f"{agg}(", draw(sub), f") {clause}", atomic=True)
        return cat(f"{agg} {clause}(", draw(sub), ")", atomic=True)
    if choice == 7:
        agg = draw(st.sampled_from(["topk", "bottomk", "quantile", "count_values"]))
        param: str | Expr = '"value"' if agg == "count_values" else draw(scalars(own, depth - 1))
        return cat(f"{agg}(", param, f",{sp}", draw(sub), ")", atomic=True)
    if choice in (8, 9, 10):
        a, b = draw(sub), draw(sub)
        o = draw(st.sampled_from(ARITH + COMPARE))
        mod = "bool " if o in COMPARE and draw(st.booleans()) else ""
        return cat(operand(a), f"{sp}{o} {mod}{matching(draw, True)}", operand(b))
    if choice in (11, 12):
        a, b = draw(sub), draw(sub)
        o = draw(st.sampled_from(["and", "or", "unless"]))
        return cat(operand(a), f"{sp}{o} {matching(draw, False)}", operand(b))
    if choice == 13:
        v, s = draw(sub), draw(scalars(own, depth - 1))
        o = draw(st.sampled_from(ARITH + COMPARE))
        if draw(st.booleans()):
            return cat(operand(v), f" {o} ", operand(s))
        return cat(operand(s), f" {o} ", operand(v))
    if choice == 14:
        return cat("-", operand(draw(sub)))
    return cat("(", draw(sub), f"{sp})", atomic=True)


@st.composite
def expressions(draw: st.DrawFn, bad: int = 0, depth: int = 4) -> tuple[str, Expr]:
    """(own customer, expression); `bad` selectors are made unsafe, chosen anywhere."""
    own = draw(st.sampled_from(CUSTOMERS))
    expr = draw(vectors(own, draw(st.integers(0, depth))))
    if bad and expr.selectors():
        slots = [i for i, p in enumerate(expr.parts) if isinstance(p, Selector)]
        chosen = draw(st.lists(st.sampled_from(slots), min_size=1, max_size=bad, unique=True))
        parts = list(expr.parts)
        for i in chosen:
            sel = parts[i]
            assert isinstance(sel, Selector)
            tenant, expected = draw(bad_tenant(own))
            positions = draw(
                st.lists(st.integers(0, 4), min_size=len(tenant), max_size=len(tenant))
            )
            parts[i] = replace(
                sel,
                tenant=tuple(zip(positions, tenant, strict=True)),
                expected=expected,
                kind="bad",
            )
        expr = Expr(tuple(parts), expr.atomic)
    return own, expr


GENERATED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@GENERATED
@given(expressions())
def test_generated_safe_expressions_are_accepted(case: tuple[str, Expr]) -> None:
    own, expr = case
    text = expr.text()
    # The parser finds exactly the selectors the generator wrote, in written order.
    assert selectors_of(text) == [s.shown() for s in expr.selectors()]
    assert [m for m, _ in verdict(text, own)] == expr.expected()
    if expr.selectors():
        assert verdict(text, own) == []


@GENERATED
@given(expressions(bad=3))
def test_generated_bad_selectors_are_rejected_and_named(case: tuple[str, Expr]) -> None:
    own, expr = case
    messages = [m for m, _ in verdict(expr.text(), own)]
    assert messages == expr.expected()
    assert messages, "every generated expression is rejected here"
    bad = [s for s in expr.selectors() if s.kind == "bad"]
    for sel in bad:
        assert any(f"selector {sel.shown()} " in m for m in messages), sel.shown()


# No shrinking: a failure names every expression promtool rejects, and shrinking would
# cost one promtool run per step.
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.tuples(expressions(), expressions(bad=2)), min_size=30, max_size=30))
def test_promtool_parses_what_was_generated(batch: list[tuple[tuple[str, Expr], ...]]) -> None:
    """Prometheus' own parser agrees: the generated text is PromQL, accepted or rejected."""
    texts = []
    verdicts = []
    for pair in batch:
        for own, expr in pair:
            text = expr.text()
            found = [m for m, _ in verdict(text, own)]
            assert found == expr.expected()
            verdicts.append(not found)
            texts.append(text)
    assert any(verdicts), "the batch holds expressions our check accepts"
    ok, output = promtool_accepts(texts)
    if not ok:
        bad = [t for t in texts if not promtool_accepts([t])[0]]
        pytest.fail(f"promtool rejects {bad!r}: {output}")
    assert "SUCCESS: 60 rules found" in output

"""The in-process PromQL check against the real promtool 2.42 (differential).

- Every construct of a list that promtool accepts passes the in-process check (parse and
  isolation): false rejections 0 (raw strings with backslashes, `@ end()` before a range,
  every 2.42 function, modifiers, number and duration forms, comments, keywords in any
  case, keywords as label names).
- What promtool refuses is refused: the common typos (tests/support/promql_typos.py, each
  with promtool's position next to ours) and what only promtool refuses (Prometheus 3
  syntax that promql-parser reads, a duration without a unit) are refused by `validate`,
  and where promql-parser has no words of its own, promtool's message is shown too.
- Generated (hypothesis): expressions built from the grammar, and the same with one
  character changed: whenever promtool accepts one, the in-process check does too, and
  whenever the in-process check refuses one, its message has a line:column.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.validate.promql import check_expr
from alertplane.validate.rulecheck import check_rule_texts
from tests.support.factories import alert
from tests.support.problems import lines
from tests.support.promql_typos import PROMTOOL_ONLY, TYPOS

T = 'customer_id="acme"'
X = f"x{{{T}}}"
Y = f"y{{{T}}}"
R = f"rate({X}[5m])"
ACCEPTED = [
    X,
    f"x{{{T},job=~`.*\\.svc`}}",
    f'x{{{T},job=~`a"b`}}',
    f"x{{{T},job!~`\\d+`}}",
    f"x{{{T},job=`a'b`}}",
    f"x{{{T},job=`\\n`}}",
    f"max_over_time({X} @ end()[1d])",
    f"rate({X} @ start()[5m])",
    f"max_over_time({X} @ end() [1h:5m])",
    f"{X} @ 1700000000",
    f"{X} @ 1.5",
    f"{X} offset -5m",
    f"{X} offset 1h30m @ 100",
    f"{X} @ 100 offset 1h",
    f"{X} @ start() offset 1h",
    f"rate({X}[5m] offset 1w)",
    f"rate({X}[5m] @ end())",
    f"max_over_time({R}[1h:5m])",
    f"max_over_time({R}[1h:])",
    f"max_over_time({R}[1h:] @ end())",
    f"max_over_time({X}[5m:1m] offset 1h)",
    f'{{__name__="x", {T}}}',
    f'{{__name__=~"x|y", {T}}}',
    f'x{{{T}, job="a\\"b"}}',
    f"x{{{T}, job='single'}}",
    f'x{{{T}, job="\\u00e9"}}',
    f'x{{{T}, job="é ☃"}}',
    f'x{{{T}, job="\\x41"}}',
    f'x{{{T}, job="\\t"}}',
    f"x{{{T},}}",
    f'x{{{T}, on="a", by="b", offset="c", bool="d"}}',
    f"sum by (job) ({R})",
    f"sum({R}) without (instance)",
    f"sum by (job,) ({X})",
    f"sum without () ({X})",
    f"topk(3, {X})",
    f"bottomk by (job) (3, {X})",
    f"quantile(0.9, {X})",
    f'count_values("value", {X})',
    f'count_values without (instance) ("v", {X})',
    f"stddev({X})",
    f"stdvar({X})",
    f"group({X})",
    f"avg({X})",
    f"min({X})",
    f"max({X})",
    f"count({X})",
    f"{X} / on (job) group_left (instance) {Y}",
    f"{X} * ignoring (instance) group_right {Y}",
    f"{X} * on (job) group_left {Y}",
    f"{X} > bool 1",
    f"{X} == bool 1",
    f"({X} > bool 0) == 1",
    f"{X} and on () {Y}",
    f"{X} unless {Y}",
    f"{X} or vector(0)",
    f"{X} atan2 {Y}",
    f"-{X}",
    f"+{X}",
    f"- -{X}",
    f"-(-{X})",
    f"{X} ^ 2 ^ 3",
    f"{X} % 3",
    f"2 ^ -{X}",
    f"histogram_quantile(0.99, sum by (le) (rate(x_bucket{{{T}}}[5m])))",
    f'label_replace({X}, "dst", "$1", "src", "(.*)")',
    f'label_join({X}, "dst", ",", "a", "b")',
    f"absent({X})",
    f"absent_over_time({X}[5m])",
    f"predict_linear({X}[1h], 3600)",
    f"holt_winters({X}[1h], 0.5, 0.5)",
    f"clamp({X}, 0, 1)",
    f"clamp_min({X}, 0)",
    f"clamp_max({X}, 1)",
    f"round({X}, 0.5)",
    f"round({X})",
    f"time() - {X}",
    f"timestamp({X})",
    f"day_of_week({X})",
    f"day_of_month({X})",
    f"day_of_year({X})",
    f"days_in_month({X})",
    f"hour({X})",
    f"minute({X})",
    f"month({X})",
    f"year({X})",
    f"day_of_week() > 5 and {X}",
    f"sort({X})",
    f"sort_desc({X})",
    f"scalar({X}) * {Y}",
    f"vector(scalar({X}))",
    f"changes({X}[1h])",
    f"resets({X}[1h])",
    f"deriv({X}[1h])",
    f"idelta({X}[5m])",
    f"irate({X}[5m])",
    f"increase({X}[1h])",
    f"delta({X}[1h])",
    f"last_over_time({X}[5m])",
    f"present_over_time({X}[5m])",
    f"quantile_over_time(0.5, {X}[5m])",
    f"stddev_over_time({X}[5m])",
    f"stdvar_over_time({X}[5m])",
    f"count_over_time({X}[5m])",
    f"sum_over_time({X}[5m])",
    f"avg_over_time({X}[5m])",
    f"min_over_time({X}[5m])",
    f"sgn({X})",
    f"abs({X})",
    f"ceil({X})",
    f"floor({X})",
    f"exp({X})",
    f"ln({X})",
    f"log2({X})",
    f"log10({X})",
    f"sqrt({X})",
    f"sin({X})",
    f"cos({X})",
    f"tan({X})",
    f"asin({X})",
    f"acos({X})",
    f"atan({X})",
    f"sinh({X})",
    f"cosh({X})",
    f"tanh({X})",
    f"asinh({X})",
    f"acosh({X})",
    f"atanh({X})",
    f"deg({X})",
    f"rad({X})",
    f"pi() * {X}",
    f"histogram_count(rate({X}[5m]))",
    f"histogram_sum(rate({X}[5m]))",
    f"histogram_fraction(0, 1, rate({X}[5m]))",
    f"0x1F * {X}",
    f"1e3 * {X}",
    f".5 * {X}",
    f"5. * {X}",
    f"Inf * {X}",
    f"{X} != NaN",
    f"-Inf < {X}",
    f"+Inf > {X}",
    f"1E-3 * {X}",
    f"0X1f * {X}",
    f"{X}[1h30m] offset 1d",
    f"rate({X}[1y])",
    f"rate({X}[2w])",
    f"rate({X}[500ms])",
    f"rate({X}[1m30s500ms])",
    f"{X} # trailing comment",
    f"# leading comment\n{X}",
    f"sum by (job) (\n  rate({X}[5m])\n) > 0",
    f"sum(\n  {X}  # why\n)",
    f"count by (job) ({X}) > 0",
    f"sum({X}) by (job)",
    f"{X} offset 5m and {Y} offset 5m",
    f"max_over_time({X}[5m:1m] @ 100)",
    f"{X} * on (job) group_left () {Y}",
    f"SUM BY (job) ({X})",
    f"{X} AND {Y}",
    f"{X} > BOOL 1",
    f"{X} OFFSET 5m",
    f"job:x:rate5m{{{T}}}",
    f"x{{{T}}}[5m:]",
    f"({X})",
    f"(((({X}))))",
    f"{X} + 1 * 2 - 3 / 4 % 5 ^ 6",
    f"1 + 2 * {X}",
    f"{X} < 1 > 0",
    f"abs(-{X})",
    f"sum(rate({X}[5m])) / sum(rate({Y}[5m])) > 0.05",
    f'absent(up{{{T},job="a"}} == 1)',
    f"{X} @ end()",
    f"sum_over_time({X}[1h] @ start())",
    f'x{{{T}, job=~"(?i)API"}}',
    f'x{{{T}, job=~"a{{2,3}}"}}',
    f'x{{{T}, job="{{{{ not a template }}}}"}}',
    f'x{{{T}, job=~"\\\\d+"}}',
]
# Prometheus 3 (or nobody's) syntax: promql-parser reads it, promtool 2.42 refuses it.
PROMETHEUS_3 = {
    "quoted label name": 'x{"customer_id"="acme"}',
    "quoted metric name": f'{{"x", {T}}}',
    "or in braces": f'x{{{T} or job="a"}}',
    "a 3.x function": f'sort_by_label({X}, "job")',
    "an aggregation 2.42 lacks": f"limitk(2, {X})",
    "a case-changed function": f"Rate({X}[5m])",
    "underscores in a number": f"1_000 * {X}",
    "a fractional duration": f"rate({X}[1.5h])",
    **PROMTOOL_ONLY,
}
_POSITION = re.compile(r"^invalid PromQL at \d+:\d+: ")


def promtool_errors(exprs: list[str]) -> list[list[str]]:
    """promtool's error lines for each expression (empty: accepted), one rule file each,
    all in one promtool run."""
    files = {
        f"e{i}.yml": json.dumps({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": e}]}]})
        for i, e in enumerate(exprs)
    }
    verdicts = check_rule_texts(files)
    return [verdicts[f"e{i}.yml"] for i in range(len(exprs))]


def test_every_listed_construct_promtool_accepts_passes_the_in_process_check() -> None:
    assert len(ACCEPTED) == len(set(ACCEPTED)) >= 170
    refused_by_promtool = [
        e for e, errs in zip(ACCEPTED, promtool_errors(ACCEPTED), strict=True) if errs
    ]
    assert refused_by_promtool == []  # the list is 2.42 PromQL
    false_rejections = {e: check_expr(e, "acme") for e in ACCEPTED}
    assert {e: p for e, p in false_rejections.items() if p} == {}


def test_promtool_refuses_every_typo_and_says_where() -> None:
    names = list(TYPOS)
    errors = promtool_errors([TYPOS[n].expr for n in names])
    where = {}
    for name, errs in zip(names, errors, strict=True):
        assert errs, f"promtool accepts the typo {name!r}"
        found = re.search(r"could not parse expression: (\d+:\d+): parse error", errs[0])
        assert found, errs
        where[name] = found.group(1)
    assert where == {n: t.promtool for n, t in TYPOS.items()}
    # Where ours and Prometheus' positions differ (ours names the function or the whole
    # aggregation where Prometheus names the argument; `==` is one token here).
    differ = {
        n for n, t in TYPOS.items() if not t.message.startswith(f"invalid PromQL at {t.promtool}:")
    }
    assert differ == {
        "instant vector to rate",
        "double equals in a matcher",
        "topk arguments swapped",
        "extra closing parenthesis",
    }


def test_what_only_promtool_refuses_is_refused_with_its_words() -> None:
    docs = [alert(name=f"P{i}", expr=e) for i, e in enumerate(PROMETHEUS_3.values())]
    found = lines(*docs, tools=True)
    for i, name in enumerate(PROMETHEUS_3):
        mine = [line for line in found if f"/acme-p{i}:" in line]
        assert mine, f"{name!r} is not refused: {found}"
    (unit,) = [line for line in found if f"/acme-p{len(PROMETHEUS_3) - 1}:" in line]
    assert unit == (
        f"CustomerAlert acme/acme-p{len(PROMETHEUS_3) - 1}: spec.expr: Prometheus rejects the "
        "expression: 1:28: parse error: missing unit character in duration; fix the "
        "expression; it must be valid Prometheus 2.42 PromQL"
    )


def test_promtool_s_words_are_added_where_promql_parser_has_none() -> None:
    generic = TYPOS["grouping without parentheses, before"]  # "invalid promql query"
    specific = TYPOS["unclosed parenthesis"]
    found = lines(
        alert(name="Generic", expr=generic.expr),
        alert(name="Specific", expr=specific.expr),
        tools=True,
    )
    hint = "fix the expression; it must be valid Prometheus"
    assert found == [
        f"CustomerAlert acme/acme-generic: spec.expr: {generic.message}; {hint} PromQL",
        "CustomerAlert acme/acme-generic: spec.expr: Prometheus rejects the expression: 1:8: "
        'parse error: unexpected identifier "job" in grouping opts, expected "("; '
        f"{hint} 2.42 PromQL",
        f"CustomerAlert acme/acme-specific: spec.expr: {specific.message}; {hint} PromQL",
    ]


# -- generated -------------------------------------------------------------------------------
_SELECTOR = st.builds(
    lambda name, extra, quote: f"{name}{{{T}{extra.replace(chr(34), quote)}}}",
    st.sampled_from(["x", "up", "job:req:rate5m", "http_requests_total", ""]),
    st.sampled_from(["", ', job="a"', ', job=~".*\\\\.svc"', ', code!~"5.."', ","]),
    st.sampled_from(['"', "'", "`"]),
)
_MODIFIER = st.sampled_from(
    ["", " offset 5m", " offset -1h", " @ 100", " @ end()", " @ start() offset 1m"]
)
_RANGE = st.sampled_from(["[5m]", "[1h30m]", "[30s]"])
_STEP = st.sampled_from(["", " @ end()", " @ start()"])


def _matrix(v: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda s, step, r, m: f"{s}{step}{r}{m}", _SELECTOR, _STEP, _RANGE, _MODIFIER),
        st.builds(lambda e, r: f"({e})[{r}:1m]", v, st.sampled_from(["1h", "30m"])),
    )


def _vector(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda f, m: f"{f}({m})",
            st.sampled_from(["rate", "increase", "max_over_time", "changes", "deriv"]),
            _matrix(children),
        ),
        st.builds(
            lambda a, g, e: f"{a}{g}({e})",
            st.sampled_from(["sum", "avg", "max", "count", "group"]),
            st.sampled_from(["", " by (job)", " without (instance)", " by ()"]),
            children,
        ),
        st.builds(lambda k, e: f"topk({k}, {e})", st.sampled_from(["1", "5", "2 * 2"]), children),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            children,
            st.sampled_from(
                [
                    "+",
                    "-",
                    "*",
                    "/",
                    "%",
                    "^",
                    "> bool",
                    "==",
                    "and",
                    "or",
                    "unless",
                    "* on (job) group_left",
                    "/ ignoring (code)",
                ]
            ),
            children,
        ),
        st.builds(
            lambda a, op, n: f"{a} {op} {n}",
            children,
            st.sampled_from([">", "<=", "!=", "+", "*"]),
            st.sampled_from(["0", "1.5", "0x1f", "1e3", "Inf", "-1"]),
        ),
        st.builds(lambda e: f"-{e}", children),
        st.builds(lambda e: f"({e})", children),
        st.builds(lambda e, c: f"{e}{c}", children, st.sampled_from(["", " # note\n", "\n"])),
        st.builds(lambda e: f'label_replace({e}, "d", "$1", "job", "(.*)")', children),
        st.builds(lambda e: f"histogram_quantile(0.9, {e})", children),
        st.builds(lambda e: f"clamp({e}, 0, 1)", children),
        st.builds(lambda e: f"absent({e})", children),
    )


_EXPRS = st.recursive(
    st.builds(lambda s, m: f"{s}{m}", _SELECTOR, _MODIFIER), _vector, max_leaves=6
)
_NOISE = [*"()[]{},=~!\"'`@:+-*/ ^%#", "by", "on", "offset", "bool", "5m", "\\"]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    expr: str = draw(_EXPRS)
    at = draw(st.integers(0, len(expr)))
    how = draw(st.sampled_from(["delete", "insert", "double"]))
    if how == "delete" and at < len(expr):
        return expr[:at] + expr[at + 1 :]
    if how == "double" and at < len(expr):
        return expr[:at] + expr[at] + expr[at:]
    noise: str = draw(st.sampled_from(_NOISE))
    return expr[:at] + noise + expr[at:]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.one_of(_EXPRS, _mutated()), min_size=40, max_size=40))
def test_generated_expressions_promtool_accepts_are_accepted(exprs: list[str]) -> None:
    errors = promtool_errors(exprs)
    for expr, errs in zip(exprs, errors, strict=True):
        problems = check_expr(expr, "acme")
        parse = [p.message for p in problems if p.message.startswith("invalid PromQL")]
        if not errs:
            # promtool accepts it: the in-process check must not refuse its syntax (the
            # mutations may lose the tenant matcher; that is the isolation check's word).
            assert parse == [], (expr, parse)
        for message in parse:
            assert _POSITION.match(message) or len(expr) > 2048, (expr, message)

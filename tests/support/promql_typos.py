"""Common PromQL mistakes, each with the exact message alertplane gives (line:column in the
expression, then what is wrong) and the position Prometheus 2.42 (promtool) reports.

Used by tests/unit/validate/test_promql_positions.py (the in-process messages) and
tests/integration/test_promql_promtool_agreement.py (promtool refuses every one of them,
and its message is what `validate` adds where promql-parser had no words).
"""

from __future__ import annotations

from typing import NamedTuple


class Typo(NamedTuple):
    expr: str
    message: str  # alertplane's, in-process (None: promql-parser accepts it, promtool not)
    promtool: str  # where promtool says the problem is (line:column)


T = 'customer_id="acme"'
TYPOS: dict[str, Typo] = {
    "unclosed brace": Typo(
        f"up{{{T}", "invalid PromQL at 1:22: unexpected end of input inside braces", "1:22"
    ),
    "unterminated string": Typo(
        f'up{{{T},job="a}}', "invalid PromQL at 1:27: unterminated quoted string", "1:27"
    ),
    "range closed by a parenthesis": Typo(
        f"rate(x{{{T}}}[5m)",
        "invalid PromQL at 1:30: unexpected character inside brackets: ')'",
        "1:30",
    ),
    "unclosed parenthesis": Typo(
        f"sum(rate(x{{{T}}}[5m])) by (job",
        "invalid PromQL at 1:45: unclosed left parenthesis",
        "1:45",
    ),
    "comparison without a right side": Typo(
        f"up{{{T}}} ==", "invalid PromQL at 1:26: unexpected end of input", "1:26"
    ),
    "grouping without parentheses, before": Typo(
        f"sum by job (x{{{T}}})", "invalid PromQL at 1:8: unexpected 'job'", "1:8"
    ),
    "grouping without parentheses, after": Typo(
        f"sum(x{{{T}}}) by job", "invalid PromQL at 1:31: unexpected 'job'", "1:31"
    ),
    "instant vector to rate": Typo(
        f"rate(x{{{T}}})",
        "invalid PromQL at 1:1: expected type matrix in call to function 'rate', got vector",
        "1:6",
    ),
    "misspelt function": Typo(
        f"rat(x{{{T}}}[5m])", "invalid PromQL at 1:1: unknown function with name 'rat'", "1:1"
    ),
    "unquoted label value": Typo(
        f"up{{{T},job=api}}",
        "invalid PromQL at 1:27: unexpected identifier 'api' in label matching, expected string",
        "1:27",
    ),
    "double equals in a matcher": Typo(
        f'up{{{T},job=="api"}}',
        "invalid PromQL at 1:26: unexpected '=' in label matching, expected string",
        "1:27",
    ),
    "regex operator reversed": Typo(
        f'up{{{T},job~="api"}}',
        "invalid PromQL at 1:26: unexpected character inside braces: '~'",
        "1:26",
    ),
    "doubled operator": Typo(f"up{{{T}}} > > 1", "invalid PromQL at 1:26: unexpected '>'", "1:26"),
    "range vector compared": Typo(
        f"x{{{T}}}[5m] > 1",
        "invalid PromQL at 1:1: binary expression must contain only scalar and instant vector "
        "types",
        "1:1",
    ),
    "subquery with two colons": Typo(
        f"avg_over_time(x{{{T}}}[5m:1m:])",
        "invalid PromQL at 1:42: unexpected second colon(:) in brackets",
        "1:42",
    ),
    "offset without a duration": Typo(
        f"x{{{T}}} offset",
        "invalid PromQL at 1:29: unexpected end of input in offset, expected duration",
        "1:29",
    ),
    "missing argument": Typo(
        f"histogram_quantile(rate(x{{{T}}}[5m]))",
        "invalid PromQL at 1:1: expected 2 argument(s) in call to 'histogram_quantile', got 1",
        "1:1",
    ),
    "set operator without a right side": Typo(
        f"up{{{T}}} and", "invalid PromQL at 1:27: unexpected end of input", "1:27"
    ),
    "topk arguments swapped": Typo(
        f"topk(x{{{T}}}, 5)",
        "invalid PromQL at 1:1: expected type vector in aggregation expression, got scalar",
        "1:29",
    ),
    "dangling operator": Typo(
        f"1 + x{{{T}}} +", "invalid PromQL at 1:28: unexpected end of input", "1:28"
    ),
    "extra closing parenthesis": Typo(
        f"up{{{T}}})", "invalid PromQL at 1:23: unexpected right parenthesis ')'", "1:24"
    ),
    "@ with a word": Typo(f"up{{{T}}} @ foo", "invalid PromQL at 1:26: unexpected 'foo'", "1:26"),
    "grouping on a function": Typo(
        f"rate(x{{{T}}}[5m]) by (job)", "invalid PromQL at 1:33: unexpected 'by'", "1:33"
    ),
    "unclosed range": Typo(
        f"up{{{T}}} [5m", "invalid PromQL at 1:27: unexpected end of input inside brackets", "1:27"
    ),
    "aggregation applied twice": Typo(
        f"sum(x{{{T}}}) by (job) (y)", "invalid PromQL at 1:37: unexpected '('", "1:37"
    ),
    "two operators": Typo(
        f"x{{{T}}} +* y{{{T}}}", "invalid PromQL at 1:24: unexpected '*'", "1:24"
    ),
    "second line": Typo(
        f"sum(\n  rate(x{{{T}}}[5m])\n) by (job",
        "invalid PromQL at 3:10: unclosed left parenthesis",
        "3:10",
    ),
}
# promql-parser accepts these; promtool refuses them (its message is what `validate` shows).
PROMTOOL_ONLY: dict[str, str] = {
    "duration without a unit": f"rate(x{{{T}}}[5])",
}

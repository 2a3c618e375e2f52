"""The cost of a subquery on the shared Prometheus, bounded (tests/adversarial/
test_subquery_cost.py).

Prometheus evaluates a subquery `expr[range:step]` as a range query of `expr` from
`range` before the evaluation time (plus the ranges of the subqueries around it, whose
steps it must cover) at `step`, on every evaluation of the rule; nothing bounds it but
the query timeout (2m by default). One customer's `[90d:1ms]` would keep a core busy for
every tenant of the shard. No subquery may take more steps than Prometheus lets a range
query have per series: 11,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ..errors import Problem

MAX_STEPS = 11_000  # Prometheus' limit on a range query's points per series
# A subquery without a step runs at the evaluation interval: Prometheus' default.
DEFAULT_STEP = timedelta(minutes=1)
HINT = (
    "use a longer step or a shorter range, or record the inner expression with a recording "
    "rule and use *_over_time on it"
)


def subquery_problems(tree: Any, path: str, children: Any, subquery: type) -> list[Problem]:
    """A problem per subquery of `tree` taking more than MAX_STEPS steps. `children(node)`
    are a node's child expressions and `subquery` the parser's type of a subquery (from
    validate/promql.py, the one module that imports the parser)."""
    problems = []
    for node, span in _subqueries(tree, children, subquery):
        step = node.step or DEFAULT_STEP
        steps = span // step
        if steps > MAX_STEPS:
            problems.append(
                Problem(
                    path,
                    f"subquery {_shown(node)} evaluates its expression at {steps:,} steps on "
                    f"every evaluation; at most {MAX_STEPS:,} (Prometheus' limit for a range "
                    "query)",
                    HINT,
                )
            )
    return problems


def _subqueries(tree: Any, children: Any, subquery: type) -> Iterator[tuple[Any, timedelta]]:
    """Every subquery with the span it is evaluated over: its range and those around it."""
    stack: list[tuple[Any, timedelta]] = [(tree, timedelta(0))]
    while stack:
        node, around = stack.pop()
        if node is None:
            continue
        if isinstance(node, subquery):
            around += getattr(node, "range")  # noqa: B009 (the parser's types are untyped)
            yield node, around
        stack.extend((child, around) for child in children(node))


def _shown(node: Any) -> str:
    """`[90d:1ms]` (promql-parser prints a step under a second as 0s, none as a range)."""
    step = _duration(node.step) if node.step is not None else ""
    return f"[{_duration(node.range)}:{step}]"


_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def _duration(value: timedelta) -> str:
    left = value // timedelta(milliseconds=1)
    out = ""
    for unit, size in _UNITS:
        if left >= size:
            out += f"{left // size}{unit}"
            left %= size
    return out or "0s"

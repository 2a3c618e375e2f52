"""Threshold ranges for plain expressions (platform config `thresholds`, pure).

Where an alert's expression compares something that reads a configured metric with a
number — `node_filesystem_avail_bytes{...} < 1e9`, `(up{...}) == 2` — that number must lie
in the metric's range. Read on the parse tree, so formatting, parentheses and the side the
number is on do not matter; comparisons with other expressions (no literal) are not
thresholds and are left alone. Templates have their own ranges (validate/catalogue.py) and
are not checked here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import Problem
from ..model.alert import CustomerAlertSpec
from ..render.catalogue import ThresholdRange
from ..render.platform import PlatformConfig
from . import promql
from .promql import NODES as pp

_COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})


def check_thresholds(spec: CustomerAlertSpec, platform: PlatformConfig | None) -> list[Problem]:
    if platform is None or not platform.thresholds or spec.template is not None:
        return []
    if spec.expr is None:
        return []
    try:
        tree = promql.parse(spec.expr)
    except ValueError:
        return []  # the isolation check reports the expression itself
    ranges = {t.metric: t for t in platform.thresholds}
    found: list[Problem] = promql._on_enough_stack(_problems, spec.expr, tree, ranges)
    return found


def _problems(_expr: str, tree: Any, ranges: dict[str, ThresholdRange]) -> list[Problem]:
    out: list[Problem] = []
    for node in promql._walk(tree):
        if not isinstance(node, pp.BinaryExpr) or str(node.op).strip() not in _COMPARISONS:
            continue
        for number, other in ((node.rhs, node.lhs), (node.lhs, node.rhs)):
            value = _number(number)
            if value is None:
                continue
            for metric in sorted(set(_metrics(other)) & set(ranges)):
                problem = _outside(value, ranges[metric])
                if problem is not None and problem not in out:
                    out.append(problem)
    return out


def _number(node: Any) -> float | None:
    """The value of a constant: a number literal, or arithmetic of numbers (`1 + 1`,
    `-(2)`), so no range is dodged by spelling a number as a sum; None for anything else."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.UnaryExpr):  # PromQL's only unary operator on a tree: minus
        inner = _number(node.expr)
        return None if inner is None else -inner
    if isinstance(node, pp.BinaryExpr) and str(node.op).strip() in _ARITHMETIC:
        lhs, rhs = _number(node.lhs), _number(node.rhs)
        if lhs is None or rhs is None:
            return None
        return _ARITHMETIC[str(node.op).strip()](lhs, rhs)
    return None


def _divide(a: float, b: float) -> float:
    if b == 0:  # as Go's float division: ±Inf, NaN for 0/0
        return (
            math.nan
            if a == 0 or math.isnan(a)
            else math.copysign(math.inf, a) * (math.copysign(1.0, b))
        )
    return a / b


def _power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0 and b % 2 == 1 else math.inf
    except ValueError:  # a negative number to a fractional power
        return math.nan


def _modulo(a: float, b: float) -> float:
    return math.nan if b == 0 or math.isinf(a) else math.fmod(a, b)


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "%": _modulo,
    "^": _power,
}


def _metrics(node: Any) -> Iterator[str]:
    for part in promql._walk(node):
        if isinstance(part, pp.VectorSelector) and part.name:
            yield str(part.name)


def _outside(value: float, allowed: ThresholdRange) -> Problem | None:
    low, high = allowed.min, allowed.max
    if low is not None and high is not None:
        span = f"from {_num(low)} to {_num(high)}"
    else:
        span = f"from {_num(low)} up" if low is not None else f"up to {_num(high)}"
    hint = f"the platform allows thresholds on {allowed.metric} {span}"
    if allowed.description:
        hint += f" ({allowed.description})"
    if math.isnan(value):  # compares false with everything: an alert that never fires
        return Problem(promql.PATH, f"{_on(value, allowed)} is not a number", hint)
    if low is not None and value < low:
        return Problem(promql.PATH, f"{_on(value, allowed)} is below the minimum {_num(low)}", hint)
    if high is not None and value > high:
        return Problem(
            promql.PATH, f"{_on(value, allowed)} is above the maximum {_num(high)}", hint
        )
    return None


def _on(value: float, allowed: ThresholdRange) -> str:
    return f"threshold {_num(value)} on {allowed.metric}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)

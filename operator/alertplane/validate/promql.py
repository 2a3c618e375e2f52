"""Tenant isolation on the PromQL AST.

Every vector selector anywhere in the expression must carry `customer_id="<own id>"` with
the equality operator, and no other matcher on `customer_id`. This is checked on the
parsed tree (promql-parser, a Rust port of Prometheus' parser), never by searching the
text, so comments, strings and odd spacing cannot fool it.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import promql_parser as pp

from ..errors import Problem
from .promql_cost import subquery_problems
from .promql_limits import check_size
from .promql_position import GENERIC, Located, locate
from .promql_rewrite import RENAMED, for_parser

TENANT_LABEL = "customer_id"
PATH = "spec.expr"
# The parser's node types, for modules that inspect a tree `parse` gave them: this stays
# the one module that imports promql-parser (tests/adversarial/test_parse_limits.py).
NODES = pp

# Node type → the attributes holding child expressions. Anything not listed here is
# rejected: a future parser node must be reviewed before it can pass the isolation gate.
_CHILDREN: dict[type[Any], tuple[str, ...]] = {
    pp.BinaryExpr: ("lhs", "rhs"),
    pp.UnaryExpr: ("expr",),
    pp.ParenExpr: ("expr",),
    pp.AggregateExpr: ("param", "expr"),
    pp.SubqueryExpr: ("expr",),
    pp.MatrixSelector: ("vector_selector",),
    pp.NumberLiteral: (),
    pp.StringLiteral: (),
}

# Functions that read series no selector in the expression names: info() joins with every
# customer's target_info (Prometheus 3, experimental), so no matcher could confine it.
_IMPLICIT_SELECTORS = ("info",)

# Defence in depth behind promql_limits: should its bound ever be wrong, the native parser
# must still not overflow a stack. It needs at most ~1 KB of stack per character (a
# unary sign per character, measured: benchmarks/README.md, "Adversarial limits"), so up to
# SMALL_EXPR characters fit any thread's stack; longer expressions are parsed, walked and
# freed on a thread of their own with BIG_STACK bytes (virtual memory, touched only as used).
SMALL_EXPR = 1024
BIG_STACK = 64 * 1024 * 1024
_stack_size_lock = threading.Lock()
_T = TypeVar("_T")


class TooComplex(ValueError):
    """The expression is longer or deeper than the parser is given; `hint` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def check_expr(expr: str, customer_id: str) -> list[Problem]:
    """Problems with `expr` for customer `customer_id`; empty when it is safe to render."""
    return _on_enough_stack(_check_expr, expr, customer_id)


def _check_expr(expr: str, customer_id: str) -> list[Problem]:
    try:
        tree = parse(expr)
    except TooComplex as exc:
        return [Problem(PATH, str(exc), exc.hint)]
    except ValueError as exc:
        where = _located(expr, str(exc))
        at = f" at {where.line}:{where.column}" if where is not None else ""
        detail = where.detail if where is not None else str(exc)
        return [
            Problem(
                PATH,
                f"invalid PromQL{at}: {detail}",
                "fix the expression; it must be valid Prometheus PromQL",
            )
        ]
    problems: list[Problem] = []
    seen: set[str] = set()
    selectors = 0
    for node in _walk(tree):
        if isinstance(node, pp.VectorSelector):
            selectors += 1
            for problem in _check_selector(node, customer_id):
                if problem.message not in seen:
                    seen.add(problem.message)
                    problems.append(problem)
        elif isinstance(node, pp.Call) and node.func.name in _IMPLICIT_SELECTORS:
            message = f"function {node.func.name}() reads series of every customer"
            if message not in seen:
                seen.add(message)
                problems.append(
                    Problem(
                        PATH,
                        message,
                        f'join target_info{{{TENANT_LABEL}="{customer_id}"}} explicitly '
                        "(* on (instance, job) group_left (...))",
                    )
                )
        elif type(node) not in _CHILDREN and not isinstance(node, pp.Call):
            problems.append(
                Problem(PATH, f"unsupported expression part {node}", "simplify the expression")
            )
    problems.extend(subquery_problems(tree, PATH, _children, pp.SubqueryExpr))
    if selectors == 0:
        problems.append(
            Problem(
                PATH,
                "expression selects no series, so it cannot be tied to this customer",
                f'select a metric with {TENANT_LABEL}="{customer_id}", '
                f'e.g. up{{{TENANT_LABEL}="{customer_id}"}} == 0',
            )
        )
    return problems


def has_detail(expr: str) -> bool:
    """Whether promql-parser refuses `expr` with words of its own (not only "invalid promql
    query") and a position: then promtool's message about it would say the same twice."""
    try:
        parse(expr)
    except TooComplex:
        return True
    except ValueError as exc:
        # The search parses prefixes: on a thread with enough stack, as check_expr does.
        return str(exc) != GENERIC and _on_enough_stack(_located, expr, str(exc)) is not None
    return False


def selectors_of(expr: str) -> list[str]:
    """Every vector selector of a valid expression, as text (for tests and messages)."""
    return _on_enough_stack(_selectors_of, expr)


def _selectors_of(expr: str) -> list[str]:
    return [str(n) for n in _walk(parse(expr)) if isinstance(n, pp.VectorSelector)]


def parse(expr: str) -> Any:
    """The AST of `expr`, as the target Prometheus reads it; ValueError (one line) if
    promql-parser rejects it, TooComplex if it is too long or deep to be given to it.

    The one entry to promql-parser: nothing else may call it (tests/adversarial/
    test_parse_limits.py checks). Callers that keep the tree go through check_expr or
    selectors_of, which also parse long expressions on a thread with a large stack.
    """
    too_large = check_size(expr)
    if too_large is not None:
        raise TooComplex(too_large.message, too_large.hint)
    return _on_enough_stack(_parse, expr)


def _parse(expr: str) -> Any:
    rewritten = for_parser(expr)
    try:
        return pp.parse(rewritten)
    except (ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        for old, new in RENAMED.items():
            # Name the function as the user wrote it, unless both spellings are used.
            if rewritten != expr and new not in expr:
                message = message.replace(f"'{new}'", f"'{old}'")
        raise ValueError(message) from exc


@functools.lru_cache(maxsize=256)
def _located(expr: str, message: str) -> Located | None:
    """Where promql-parser's `message` about `expr` is (cached: the tools pass asks again
    about the alerts already refused, has_detail)."""
    return locate(expr, message, _refusal)


def _refusal(expr: str) -> str | None:
    """Why promql-parser refuses `expr`, None if it accepts it (for promql_position: `expr`
    is a prefix of an expression within the size limits, parsed on the same thread)."""
    try:
        _parse(expr)
    except ValueError as exc:
        return str(exc)
    return None


def _on_enough_stack(fn: Callable[..., _T], expr: str, *args: Any) -> _T:
    """`fn(expr, *args)`, on a thread with BIG_STACK bytes of stack when `expr` is long.

    Nested calls (check_expr → parse) stay on the thread they are on. Exceptions are
    re-raised without their traceback, which could hold on to a tree from that thread.
    """
    if len(expr) <= SMALL_EXPR or threading.current_thread().name == _THREAD_NAME:
        return fn(expr, *args)
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, fn(expr, *args)))
        except Exception as exc:
            outcome.append((False, exc.with_traceback(None)))

    with _stack_size_lock:  # the size applies to threads started while it is set
        previous = threading.stack_size(BIG_STACK)
        try:
            thread = threading.Thread(target=run, name=_THREAD_NAME, daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


_THREAD_NAME = "alertplane-promql"


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        yield current
        stack.extend(reversed(_children(current)))


def _children(node: Any) -> list[Any]:
    if isinstance(node, pp.Call):
        return list(node.args)
    return [getattr(node, attr) for attr in _CHILDREN.get(type(node), ())]


def _check_selector(sel: Any, customer_id: str) -> Iterator[Problem]:
    groups = [list(g) for g in (sel.matchers.or_matchers or [])] or [list(sel.matchers.matchers)]
    want = f'{TENANT_LABEL}="{customer_id}"'
    shown = _show(sel, groups)
    for matchers in groups:
        tenant = [m for m in matchers if m.name == TENANT_LABEL]
        if not tenant:
            yield Problem(
                PATH,
                f"selector {shown} has no {want} matcher",
                f"add {want} inside its braces",
            )
        for m in tenant:
            if m.op != pp.MatchOp.Equal:
                yield Problem(
                    PATH,
                    f"selector {shown} matches {TENANT_LABEL} with {_op(m.op)}",
                    f"use {want} (equality); a customer may only select its own series",
                )
            elif m.value != customer_id:
                yield Problem(
                    PATH,
                    f"selector {shown} selects customer {_quote(m.value)}",
                    f"an alert of customer {customer_id} may only select {want}",
                )


def _show(sel: Any, groups: list[list[Any]]) -> str:
    """The selector as PromQL. promql-parser prints label values unescaped (a quote or a
    newline would make the message ambiguous or span lines) and `or` groups garbled."""
    text = str(sel)
    body = " or ".join(",".join(f"{m.name}{_op(m.op)}{_quote(m.value)}" for m in g) for g in groups)
    # What follows the braces (` @ 100.000 offset 5m`) never contains a brace.
    return f"{sel.name or ''}{{{body}}}{text[text.rfind('}') + 1 :]}"


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _op(op: Any) -> str:
    # MatchOp is not hashable, so no dict lookup.
    for candidate, text in (
        (pp.MatchOp.Equal, "="),
        (pp.MatchOp.NotEqual, "!="),
        (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"),
    ):
        if op == candidate:
            return text
    return str(op)

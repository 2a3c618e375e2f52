"""What may reach the native PromQL parser: bounded length and nesting depth.

promql-parser (Rust) builds, converts and frees its tree recursively: a few thousand
nested parentheses, unary signs, calls or chained binary operators overflow the thread's
stack and kill the whole process (SIGSEGV), and its time grows with the square of the
depth. So before any parse, one pass over the PromQL tokens measures an upper bound of
the tree's depth, and expressions longer or deeper than any real rule needs are refused
with a message instead. The numbers and how they were chosen: benchmarks/README.md
("Adversarial limits"), measured with benchmarks/promql_shapes.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest real expression measured: 1,486 characters (1,188 upstream rules: kube-prometheus
# and awesome-prometheus-alerts); with a customer_id matcher on every selector ~2 KB.
# 16 KiB leaves 8x headroom.
MAX_EXPR_CHARS = 16_384
# Deepest real expression measured: 13 levels (see `depth`). 64 leaves ~5x headroom; at 64
# levels the parser needs ~130 KB of stack and about a millisecond.
MAX_DEPTH = 64

_BINARY_WORDS = frozenset(("and", "or", "unless", "atan2"))
_SIGNS = frozenset("+-")
# Tokens: strings (escapes; backticks are raw), comments, words (names, numbers,
# durations, keywords), two-character operators, then any single character.
_SCAN = re.compile(
    r'"(?:\\.|[^"\\])*"?'
    r"|'(?:\\.|[^'\\])*'?"
    r"|`[^`]*`?"
    r"|#[^\n]*"
    r"|[A-Za-z0-9_:.]+"
    r"|==|!=|>=|<=|=~|!~"
    r"|[^\sA-Za-z0-9_:.]",
)
_OPERATORS = frozenset(("+", "-", "*", "/", "%", "^", "==", "!=", ">=", "<=", ">", "<"))
# Every level `depth` counts needs one of these characters or keywords: an expression
# with no more of them than MAX_DEPTH cannot be too deep, so the common case costs a few
# `str.count` calls (~2 µs), not a token scan (~35 µs).
_LEVEL_CHARS = "([-+*/%^=<>!"
_LEVEL_WORDS = ("and", "or", "unless", "atan2")


@dataclass(frozen=True)
class TooLarge:
    """Why an expression may not be parsed: what was measured and the limit."""

    message: str
    hint: str


def check_size(expr: str) -> TooLarge | None:
    """None when `expr` is small and shallow enough to hand to the parser."""
    if len(expr) > MAX_EXPR_CHARS:
        return TooLarge(
            f"expression is {len(expr)} characters long; the limit is {MAX_EXPR_CHARS}",
            "shorten it, e.g. move parts into recording rules",
        )
    lower = expr.lower()  # keywords are case-insensitive: `AND` is `and`
    if sum(map(expr.count, _LEVEL_CHARS)) + sum(map(lower.count, _LEVEL_WORDS)) <= MAX_DEPTH:
        return None
    found = depth(expr)
    if found > MAX_DEPTH:
        return TooLarge(
            f"expression nests {found} levels deep; the limit is {MAX_DEPTH} "
            "(each parenthesis, function call, unary sign and chained binary operator "
            "is a level)",
            "simplify it, e.g. drop redundant parentheses or signs, or split it into "
            "recording rules",
        )
    return None


@dataclass
class _Frame:
    """One `(...)`: the finished arguments' depth, and the argument being read."""

    signs_before: int = 0  # unary signs in front of the `(` in the enclosing frame
    args: int = 0  # deepest finished argument (arguments are separated by `,`)
    operators: int = 0  # binary operators in the current argument
    operands: int = 0  # deepest operand of the current argument, its signs included
    signs: int = 0  # unary signs in front of the current operand
    last: int = 0  # depth of the latest operand, for a `[...]` after it
    # Most signs in front of one operand of the current argument: `-a ^ b` is `-(a ^ b)`
    # (`^` binds tighter than a sign), so a sign may sit above the argument's operators.
    sign_run: int = 0

    def operand(self, depth: int) -> None:
        self.last = depth
        self.operands = max(self.operands, depth)

    def argument(self) -> int:
        # Every operand of a chain `a + b + c` may sit under all its operators, and
        # those under the signs of a `-a ^ b`.
        above = self.sign_run if self.operators else 0
        return max(self.args, above + self.operators + self.operands)


def depth(expr: str) -> int:
    """An upper bound of the depth of `expr`'s syntax tree, from its tokens alone.

    Bottom up: an operand (name, number, selector) is 0 deep; `(...)` and a call are one
    more than their deepest argument; a `[range]` or `[subquery:]` after an operand adds
    one to it, as does each unary sign in front of it; an argument is as deep as its
    deepest operand plus all its binary operators (a chain `a + b + c` is a tree as deep
    as it is long). Label matchers `{...}` never nest and their `!=`/`=~` are no
    operators. Unbalanced input is measured as if closed; the parser says what is wrong.
    """
    stack = [_Frame()]
    operand_ended = False  # False where a `+`/`-` can only be a sign
    skip_to = ""  # inside `{...}` or `[...]`: only its end matters
    for token in _SCAN.findall(expr):
        first = token[0]
        frame = stack[-1]
        if skip_to:
            if first == skip_to:
                if skip_to == "]":
                    frame.operand(frame.last + 1)
                skip_to = ""
                operand_ended = True
            continue
        if first in "\"'`#" or first.isspace():
            continue
        if first == "(":
            stack.append(_Frame(signs_before=frame.signs))
            operand_ended = False
        elif first == ")":
            if len(stack) > 1:
                stack.pop()
                stack[-1].operand(frame.signs_before + 1 + frame.argument())
            operand_ended = True
        elif first in "{[":
            skip_to = "}" if first == "{" else "]"
        elif first == ",":
            frame.args = frame.argument()
            frame.operators = frame.operands = frame.signs = frame.last = frame.sign_run = 0
            operand_ended = False
        elif token in _SIGNS and not operand_ended:
            frame.signs += 1
            frame.sign_run = max(frame.sign_run, frame.signs)
        elif token in _OPERATORS or token.lower() in _BINARY_WORDS:
            frame.operators += 1
            frame.signs = 0
            operand_ended = False
        else:  # a name, number or keyword: an operand 0 deep, under its signs
            frame.operand(frame.signs)
            operand_ended = True
    while len(stack) > 1:
        closed = stack.pop()
        stack[-1].operand(closed.signs_before + 1 + closed.argument())
    return stack[0].argument()

"""What may reach the native PromQL parser: bounded length and nesting depth.

promql-parser (Rust) builds, converts and frees its tree recursively: a few thousand
nested parentheses, unary signs, calls or chained binary operators overflow the thread's
stack and kill the whole process (SIGSEGV), and its time grows with the square of the
depth. So before any parse, one pass over the PromQL tokens measures an upper bound of
the tree's depth, and expressions longer or deeper than any real rule needs are refused
with a message instead. The numbers and how they were chosen: benchmarks/README.md
("PromQL limits"), measured with benchmarks/promql_shapes.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest real expression measured: 1,412 characters (kube-prometheus); with a
# customer_id matcher on every selector ~2 KB. 16 KiB leaves 8x headroom.
MAX_EXPR_CHARS = 16_384
# Deepest real expression measured: 15 levels (see `depth`). 64 leaves 4x headroom; at 64
# levels the parser needs ~100 KB of stack and well under a millisecond.
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
# Characters every nesting level or binary operator needs at least one of (`a`/`o`/`u`
# start the keyword operators). An expression with no more of them than MAX_DEPTH cannot
# be too deep, so the common case costs a few `str.count` calls, not a token scan.
_LEVEL_CHARS = "([-+*/%^=<>!aou"


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
    if sum(map(expr.count, _LEVEL_CHARS)) <= MAX_DEPTH:
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


def depth(expr: str) -> int:
    """An upper bound of the depth of `expr`'s syntax tree, from its tokens alone.

    A frame per open `(` or `[`: its depth is the depth it opened at, plus the binary
    operators since its last `,` (a chain `a + b + c` is a tree as deep as it is long),
    plus the run of unary signs in front of the current operand. Label matchers `{...}`
    never nest and their `!=`/`=~` are not operators. Unbalanced input is measured as
    far as it goes; the parser reports what is wrong with it.
    """
    stack: list[tuple[int, int]] = []  # (base, operators) of each enclosing frame
    base = operators = signs = deepest = 0
    operand_ended = False  # False where a `+`/`-` can only be a sign
    in_braces = False
    for token in _SCAN.findall(expr):
        first = token[0]
        if in_braces:
            in_braces = first != "}"
            operand_ended = not in_braces
            continue
        if first in "\"'`#" or first.isspace():
            continue
        if first in "([":
            stack.append((base, operators))
            base += operators + signs + 1
            operators = signs = 0
            operand_ended = False
        elif first in ")]":
            # A closed frame is one operand of the enclosing frame's chain.
            base, operators = stack.pop() if stack else (base, operators)
            signs = 0
            operand_ended = True
        elif first == "{":
            in_braces = True
        elif first == ",":
            operators = signs = 0
            operand_ended = False
        elif token in _SIGNS and not operand_ended:
            signs += 1
        elif token in _OPERATORS or token.lower() in _BINARY_WORDS:
            operators += 1
            signs = 0
            operand_ended = False
        else:
            operand_ended = True
        deepest = max(deepest, base + operators + signs)
    return deepest

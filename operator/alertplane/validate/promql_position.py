"""Where in an expression promql-parser's refusal is: `line:column`, and what is there.

promql-parser reports no positions, and for most grammar errors no detail either
("invalid promql query"). Prometheus' parser stops at the first token that no valid
expression can continue with, and that is what this finds, without a grammar of its own:
a prefix of the expression (cut at a token boundary) is *viable* when some short
completion (an operand, a grouping, a duration unit, the closing brackets) makes it parse.
Viability only ever goes from true to false as the prefix grows, so a binary search over
the token boundaries finds the first token that cannot be continued in O(log n) parses.
When every prefix is viable, the expression ends too early ("unexpected end of input").

A type error (`rate(x)`, `topk(x, 5)`) is where the first prefix that completes with the
same error ends; an unknown function is at its name; an unterminated string at its
opening quote. Columns count characters from 1, like
Prometheus' for ASCII text; where the rule is rendered, promtool's own message is added
(validate/blame.py), so the authoritative words are never lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .promql_rewrite import TOKEN

GENERIC = "invalid promql query"  # promql-parser's message when it has no detail
# Completions tried after a prefix (then its open brackets are closed): enough to finish
# any prefix that Prometheus' grammar can finish, as far as common expressions go.
_TAILS = (
    "",
    " x",
    " 1",
    " (x)",
    "(x)",
    " (x) (x)",
    "(x) (x)",
    "x)",
    ' x=""',
    '=""',
    '""',
    "m",
    "5m",
    " 5m",
    ":]",
    " x[5m]",
    "[5m]",
    " bool 1",
)
_CLOSE = {"(": ")", "{": "}", "[": "]"}
_UNKNOWN = re.compile(r"^unknown function with name '([A-Za-z_][A-Za-z0-9_]*)'")
_UNTERMINATED = "unterminated quoted string"
# "expected 3 argument(s) in call to 'f', got 2" is at the call, whatever the count.
_COUNT = re.compile(r", got \d+$")
_SYNTAX = ("unexpected", "unclosed", "unterminated", "unknown", "invalid", "bad ")


@dataclass(frozen=True)
class Located:
    line: int
    column: int
    detail: str  # what is wrong there, in words


def locate(expr: str, message: str, refusal: Callable[[str], str | None]) -> Located:
    """Where `message` (promql-parser's refusal of `expr`) is; `refusal(text)`: why
    promql-parser refuses `text`, None when it accepts it (the caller's parser, rewrites
    included)."""
    tokens = TOKEN.findall(expr)
    starts = _starts(tokens)
    named = _UNKNOWN.match(message)
    if named is not None:
        at = _call_of(tokens, starts, named.group(1))
        if at is not None:
            return _at(expr, at, message)
    if message.startswith(_UNTERMINATED):
        for token, start in zip(tokens, starts, strict=True):
            if token[0] in "\"'`" and (len(token) == 1 or token[-1] != token[0]):
                return _at(expr, start, _UNTERMINATED)
    code = [i for i, t in enumerate(tokens) if not t.isspace() and not t.startswith("#")]
    low, high = 0, len(code)  # the first code token whose prefix is not viable, or none
    while low < high:
        mid = (low + high) // 2
        end = code[mid]
        if _viable("".join(tokens[: end + 1]), message, refusal):
            low = mid + 1
        else:
            high = mid
    if low == len(code):
        detail = "unexpected end of input" if message == GENERIC else message
        return _at(expr, len(expr), detail)
    index = code[low]
    detail = f"unexpected {tokens[index]!r}" if message == GENERIC else message
    return _at(expr, starts[index], detail)


def _viable(prefix: str, message: str, refusal: Callable[[str], str | None]) -> bool:
    """For a syntax error: whether some completion of `prefix` is free of syntax errors.
    For a type error: whether no completion has that error yet (where it first appears
    is where it is)."""
    typed = not syntax_error(message)
    inner = prefix + "".join(_open(prefix)[-1:])  # `x{` is completed as `x{}[5m]` too
    for text in (prefix, inner):
        for tail in _TAILS:
            why = refusal(text + tail + "".join(reversed(_open(text + tail))))
            if typed and why is not None and _COUNT.sub("", why) == _COUNT.sub("", message):
                return False
            if not typed and (why is None or not syntax_error(why)):
                return True
    return typed


def syntax_error(message: str) -> bool:
    """Whether promql-parser's `message` is about the text's grammar (not about types or
    argument counts, which a longer text can make right or keep wrong)."""
    return message == GENERIC or message.startswith(_SYNTAX)


def _open(text: str) -> list[str]:
    """The closing brackets `text` still needs, innermost last."""
    stack: list[str] = []
    for token in TOKEN.findall(text):
        if token in _CLOSE:
            stack.append(_CLOSE[token])
        elif stack and token == stack[-1]:
            stack.pop()
    return stack


def _starts(tokens: list[str]) -> list[int]:
    out, at = [], 0
    for token in tokens:
        out.append(at)
        at += len(token)
    return out


def _call_of(tokens: list[str], starts: list[int], name: str) -> int | None:
    for i, token in enumerate(tokens):
        if token == name:
            rest = [t for t in tokens[i + 1 :] if not t.isspace() and not t.startswith("#")]
            if rest[:1] == ["("]:
                return starts[i]
    return None


def _at(expr: str, offset: int, detail: str) -> Located:
    line = expr.count("\n", 0, offset) + 1
    column = offset - (expr.rfind("\n", 0, offset) + 1) + 1
    return Located(line, column, detail)

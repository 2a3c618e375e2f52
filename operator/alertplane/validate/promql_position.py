"""Where in an expression promql-parser's refusal is: `line:column`, and what is there.

promql-parser reports no positions, and for most grammar errors no detail either
("invalid promql query"). Prometheus' parser stops at the first token that no valid
expression can continue with, and that is what this finds, without a grammar of its own:
a prefix of the expression (cut at a token boundary) is *viable* when some short
completion (an operand, a grouping, a duration unit, the closing brackets) makes it parse.
Viability only ever goes from true to false as the prefix grows, so a binary search over
the token boundaries finds the first token that cannot be continued in O(log n) parses.
When every prefix is viable, the expression ends too early ("unexpected end of input").

A type error (`rate(x)`, `topk(x, 5)`, a missing argument) is at the smallest
parenthesised part that alone has the same error (or at the start); an unknown function is
at its name; an unterminated string at its opening quote. Columns count characters from 1, like
Prometheus' for ASCII text; where the rule is rendered, promtool's own message is added
(validate/blame.py), so the authoritative words are never lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .promql_rewrite import TOKEN

GENERIC = "invalid promql query"  # promql-parser's message when it has no detail
# Completions tried after a prefix (then its open brackets are closed), by what the prefix
# ends with: enough to finish any prefix Prometheus' grammar can finish, as far as common
# expressions go, and few, since each is a parse (long expressions parse slowly).
_OPERAND = (" x", " 1", ' "x"', " x[5m]")
_TAILS_AFTER = {
    "grouping": ("(x) (x)", "(x) x", "(x)", " x"),
    "offset": (" 5m",),
    "@": (" 1",),
    "bool": (" 1",),
    "operator": _OPERAND,
    "[": ("5m", "5m:"),
    "duration": ("", "m", ":"),
    "{": ('x=""', ""),
    "label": ('=""',),
    "matcher": ('""',),
    "value": ("", ', x=""'),
    "operand": ("", "(x)", "[5m]", " > 1", " x"),
}
_GROUPING = frozenset(("by", "without", "on", "ignoring", "group_left", "group_right"))
_OPERATORS = frozenset(
    ("+", "-", "*", "/", "%", "^", "==", "!=", ">=", "<=", ">", "<", "(", ",", "and", "or")
) | frozenset(("unless", "atan2"))
_MATCH_OPS = frozenset(("=", "!=", "=~", "!~"))
# Expressions longer than this get no position from here (each completion is a parse, and
# parsing grows faster than the length): real rules are shorter (the longest measured:
# 1,486 characters); promtool's message, which has the position, is shown for them.
MAX_LOCATE = 2048
# The search parses at most BUDGET times the expression's length plus BUDGET_FLOOR
# characters (the typos of tests/support/promql_typos.py need at most ~450): so a body of
# refused expressions costs at most a bounded multiple of one of valid ones.
BUDGET = 24
BUDGET_FLOOR = 4096
_CLOSE = {"(": ")", "{": "}", "[": "]"}
_MAX_GROUPS = 256  # parenthesised parts tried for a type error (each is a parse)
_UNKNOWN = re.compile(r"^unknown function with name '([A-Za-z_][A-Za-z0-9_]*)'")
_UNTERMINATED = "unterminated quoted string"
# "expected 3 argument(s) in call to 'f', got 2" is at the call, whatever the count.
_COUNT = re.compile(r", got \d+$")
_SYNTAX = ("unexpected", "unclosed", "unterminated", "unknown", "invalid", "bad ", "no ")


@dataclass(frozen=True)
class Located:
    line: int
    column: int
    detail: str  # what is wrong there, in words


def locate(expr: str, message: str, refusal: Callable[[str], str | None]) -> Located | None:
    """Where `message` (promql-parser's refusal of `expr`) is; `refusal(text)`: why
    promql-parser refuses `text`, None when it accepts it (the caller's parser, rewrites
    included). None for an expression longer than MAX_LOCATE whose error is neither an
    unknown function nor an unterminated string, and when the search would parse more
    than its budget (BUDGET times the expression, plus BUDGET_FLOOR characters)."""
    try:
        return _locate(expr, message, _Budget(refusal, BUDGET * len(expr) + BUDGET_FLOOR))
    except _OutOfBudget:
        return None


class _OutOfBudget(Exception):
    pass


class _Budget:
    """`refusal`, allowed to parse `left` characters in all: a refused expression never
    costs more than a bounded multiple of parsing it once."""

    def __init__(self, refusal: Callable[[str], str | None], left: int) -> None:
        self.refusal = refusal
        self.left = left

    def __call__(self, text: str) -> str | None:
        self.left -= len(text)
        if self.left < 0:
            raise _OutOfBudget
        return self.refusal(text)


def _locate(expr: str, message: str, refusal: Callable[[str], str | None]) -> Located | None:
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
    if len(expr) > MAX_LOCATE:
        return None
    if not syntax_error(message):
        return _at(expr, _type_error_at(expr, tokens, starts, message, refusal), message)
    code = [i for i, t in enumerate(tokens) if not t.isspace() and not t.startswith("#")]
    low, high = 0, len(code)  # the first code token whose prefix is not viable, or none
    while low < high:
        mid = (low + high) // 2
        end = code[mid]
        if _viable("".join(tokens[: end + 1]), refusal):
            low = mid + 1
        else:
            high = mid
    if low == len(code):
        detail = "unexpected end of input" if message == GENERIC else message
        return _at(expr, len(expr), detail)
    index = code[low]
    detail = f"unexpected {tokens[index]!r}" if message == GENERIC else message
    return _at(expr, starts[index], detail)


def _viable(prefix: str, refusal: Callable[[str], str | None]) -> bool:
    """Whether some completion of `prefix` is free of syntax errors."""
    still_open = _open(prefix)
    texts = [prefix]
    if still_open[-1:] == ["}"]:
        texts.append(prefix + "}")  # `x{` is completed as `x{}[5m]` too
    for text in texts:
        for tail in _tails(prefix, still_open):
            why = refusal(text + tail + "".join(reversed(_open(text + tail))))
            if why is None or not syntax_error(why):
                return True
    return False


def _tails(prefix: str, still_open: list[str]) -> tuple[str, ...]:
    tokens = [t for t in TOKEN.findall(prefix) if not t.isspace() and not t.startswith("#")]
    last = tokens[-1] if tokens else "("
    word = last.lower()
    inside = still_open[-1] if still_open else ""
    if inside == "}":
        if last in ("{", ","):
            return _TAILS_AFTER["{"]
        if last[0] in "\"'`":
            return _TAILS_AFTER["value"]
        return _TAILS_AFTER["matcher" if last in _MATCH_OPS else "label"]
    if inside == "]":
        return _TAILS_AFTER["[" if last == "[" else "duration"]
    if word in _GROUPING:
        return _TAILS_AFTER["grouping"]
    if word in ("offset", "@", "bool"):
        return _TAILS_AFTER[word]
    if word in _OPERATORS:
        return _TAILS_AFTER["operator"]
    return _TAILS_AFTER["operand"]


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


def _type_error_at(
    expr: str,
    tokens: list[str],
    starts: list[int],
    message: str,
    refusal: Callable[[str], str | None],
) -> int:
    """Where a type error is: the smallest parenthesised part (a call with its name) that
    alone is refused with the same words, or its content when that is; none: the whole
    expression (Prometheus, too, names where the offending expression starts)."""
    want = _COUNT.sub("", message)
    code = [i for i, t in enumerate(tokens) if not t.isspace() and not t.startswith("#")]
    groups: list[tuple[int, int, int]] = []  # (length, start offset, content offset)
    opened: list[int] = []
    for n, i in enumerate(code):
        if tokens[i] == "(":
            opened.append(n)
        elif tokens[i] == ")" and opened:
            first = opened.pop()
            head = code[first - 1] if first and tokens[code[first - 1]][0].isalpha() else None
            begin = starts[head if head is not None else code[first]]
            end = starts[i] + 1
            groups.append((end - begin, begin, starts[code[first]] + 1))
    for length, begin, content in sorted(groups)[:_MAX_GROUPS]:
        why = refusal(expr[begin : begin + length])
        if why is not None and _COUNT.sub("", why) == want:
            inside = expr[content : begin + length - 1]
            inner = refusal(inside)
            if inner is not None and _COUNT.sub("", inner) == want:
                return content + len(inside) - len(inside.lstrip())
            return begin
    return starts[code[0]] if code else 0


def _at(expr: str, offset: int, detail: str) -> Located:
    line = expr.count("\n", 0, offset) + 1
    column = offset - (expr.rfind("\n", 0, offset) + 1) + 1
    return Located(line, column, detail)

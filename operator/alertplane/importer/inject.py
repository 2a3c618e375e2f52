"""Adding `customer_id="<id>"` to every vector selector of an expression, on the parse tree.

The tree (validate/promql.py, the one entry to the parser) says where the selectors are and
what they select; the text is changed only at the selectors' braces, so everything else the
author wrote (spacing, comments, the order of operands, number spellings) stays as it was.
The parser keeps no source positions, so a small PromQL tokenizer finds each selector's
place in the text, and the tree must agree with it selector by selector (same count, same
metric names, in the same order). The result is then proven, not trusted: it must pass the
isolation check, and its tree must equal the original tree plus the tenant matcher on every
selector. Any disagreement refuses the rule; it never yields a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..validate import promql
from ..validate.promql import TENANT_LABEL

# The lexer's view of PromQL (Prometheus' promql/parser/lex.go), enough to tell selectors
# from function names, keywords, label lists, strings, comments and numbers.
_TOKEN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      |(?P<comment>\#[^\n]*)
      |(?P<space>\s+)
      |(?P<number>[0-9.][0-9a-zA-Z_.]*)
      |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
      |(?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)
_AGGREGATORS = frozenset(
    [
        "sum",
        "avg",
        "count",
        "min",
        "max",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "count_values",
        "quantile",
        "limitk",
        "limit_ratio",
    ]
)
_GROUPING = frozenset(["by", "without", "on", "ignoring", "group_left", "group_right"])
_OPERATORS = frozenset(["and", "or", "unless", "atan2", "bool", "offset"])  # never a metric name
_KEYWORDS = frozenset(("inf", "nan", *_OPERATORS, *_GROUPING))
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class Refused(ValueError):
    """The expression cannot be tied to one customer by adding a matcher; str = why."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class _Selector:
    name: str  # "" for `{...}` alone
    insert_at: int  # where the matcher goes
    text: str  # what goes there
    has_tenant: bool


def inject(expr: str, customer_id: str) -> str:
    """`expr` with `customer_id="<customer_id>"` on every vector selector that lacks it.

    Raises Refused with the reason when the expression cannot be isolated that way (it
    selects nothing, names another customer, matches customer_id by regex or negation,
    reads series implicitly) or is not valid PromQL.
    """
    # Long expressions are parsed on a thread with a large stack, like the isolation check.
    return promql._on_enough_stack(_inject, expr, customer_id)


def _inject(expr: str, customer_id: str) -> str:
    # The isolation check parses (and bounds) the expression; what it finds besides the
    # missing matcher (invalid PromQL, too deep, another customer, a regex, no selector)
    # cannot be fixed by adding one.
    missing = f'has no {TENANT_LABEL}="{customer_id}" matcher'
    blocking = [p for p in promql.check_expr(expr, customer_id) if not p.message.endswith(missing)]
    if blocking:
        raise Refused("; ".join(p.message for p in blocking))
    located = _locate(_tokens(expr), customer_id)
    _agree(expr, located)
    out, last = [], 0
    for sel in located:
        if sel.has_tenant:
            continue
        out.append(expr[last : sel.insert_at])
        out.append(sel.text)
        last = sel.insert_at
    out.append(expr[last:])
    result = "".join(out)
    _prove(expr, result, customer_id)
    return result


def _tokens(expr: str) -> list[_Token]:
    return [
        _Token(m.lastgroup or "punct", m.group(), m.start())
        for m in _TOKEN.finditer(expr)
        if m.lastgroup not in ("space", "comment")
    ]


def _locate(tokens: list[_Token], customer_id: str) -> list[_Selector]:
    """Every vector selector of the tokens, in text order."""
    matcher = f'{TENANT_LABEL}="{customer_id}"'
    found: list[_Selector] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        prev = tokens[i - 1].text if i else ""
        if tok.text == "[":
            i = _skip(tokens, i, "[", "]")
        elif tok.text == "{":
            before = tokens[i - 1] if i else None
            named = before and before.kind == "ident" and before.text.lower() not in _OPERATORS
            name = before.text if named and before else ""
            close = _skip(tokens, i, "{", "}") - 1
            found.append(_braces(tokens, i, close, name, matcher))
            i = close + 1
        elif tok.kind != "ident" or prev == "@" or nxt == "{":
            i += 1  # `@ start()`; a name before braces is taken with them
        elif tok.text.lower() in _GROUPING and nxt == "(":
            i = _skip(tokens, i + 1, "(", ")")  # a label list, not expressions
        elif nxt == "(" or tok.text.lower() in _KEYWORDS:
            i += 1  # a call or an operator keyword
        elif tok.text.lower() in _AGGREGATORS and nxt.lower() in ("by", "without"):
            i += 1  # `sum by (x) (...)`; a bare `sum` is a metric name
        else:
            found.append(_Selector(tok.text, tok.end, "{" + matcher + "}", False))
            i += 1
    return found


def _skip(tokens: list[_Token], i: int, open_: str, close: str) -> int:
    """The index after the bracket closing the one at `i` (strings are single tokens)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].text == open_:
            depth += 1
        elif tokens[j].text == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise Refused(f"unbalanced {open_!r} in the expression")


def _braces(tokens: list[_Token], open_: int, close: int, name: str, matcher: str) -> _Selector:
    inner = tokens[open_ + 1 : close]
    words = [t.text for t in inner if t.kind == "ident"]
    if "or" in words:
        raise Refused(
            "a selector with `or` inside its braces is not supported by Prometheus 2.42; "
            "write two selectors joined by `or`"
        )
    has_tenant = any(
        t.kind in ("ident", "string") and _label(t) == TENANT_LABEL and _is_name(inner, k)
        for k, t in enumerate(inner)
    )
    last = inner[-1].text if inner else "{"
    sep = "" if last in ("{", ",") else ", " if _spaced(tokens, open_, close) else ","
    return _Selector(name, tokens[close].start, sep + matcher, has_tenant)


def _label(tok: _Token) -> str:
    return tok.text[1:-1] if tok.kind == "string" else tok.text


def _is_name(inner: list[_Token], k: int) -> bool:
    """Whether inner[k] is a matcher's label name (followed by an operator), not a value."""
    return k + 1 < len(inner) and inner[k + 1].text in ("=", "!")


def _spaced(tokens: list[_Token], open_: int, close: int) -> bool:
    return any(t.text == "," for t in tokens[open_:close]) and not any(
        tokens[k].text == "," and tokens[k + 1].start == tokens[k].end for k in range(open_, close)
    )


def _agree(expr: str, located: list[_Selector]) -> None:
    """The tokenizer and the parse tree must see the same selectors in the same order."""
    tree = promql.selectors_of(expr)
    names = [m.group() if (m := _NAME.match(s)) else "" for s in tree]
    if names != [s.name for s in located]:
        raise Refused(
            "could not place the matcher: the expression's selectors "
            f"({', '.join(tree) or 'none'}) were not found in its text"
        )


def _prove(before: str, after: str, customer_id: str) -> None:
    """`after` passes the isolation check, and its tree is `before`'s with only the tenant
    matcher added (the parser's structural dump, tenant matchers removed, is equal)."""
    problems = promql.check_expr(after, customer_id)
    if problems or _without_tenant(before, customer_id) != _without_tenant(after, customer_id):
        why = problems[0].message if problems else "the expression's tree changed"
        raise Refused(f"could not add the matcher safely ({why}); add it by hand")


def _without_tenant(expr: str, customer_id: str) -> str:
    """The parser's structural dump of `expr` (Rust's Debug format: every node and field)
    without the tenant matchers. A matcher's lines are indented by its depth, which is the
    same in both trees, so the regular expressions need no line-by-line pass."""
    block = re.compile(
        r"\n *Matcher \{\n *op: Equal,\n *name: "
        + re.escape(f'"{TENANT_LABEL}",')
        + r"\n *value: "
        + re.escape(f'"{customer_id}",')
        + r"\n *\},"
    )
    return _EMPTY.sub("matchers: [],", block.sub("", repr(promql.parse(expr))))


_EMPTY = re.compile(r"matchers: \[\n *\],")

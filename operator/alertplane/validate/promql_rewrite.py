"""What the target Prometheus (2.42) accepts, spelled the way promql-parser reads it.

promql-parser (a Rust port of Prometheus 3's parser) refuses a few things promtool 2.42
accepts. The expression is rewritten, token by token, into an equivalent one before it is
parsed: only for the isolation check (the rule file keeps the text as written, and
whether Prometheus accepts it stays promtool's decision). Each rewrite keeps every
selector, so the isolation walk sees the same selectors and matchers:

- a raw string in backticks (`` job=~`.*\\.svc` ``): promql-parser reads escapes in it
  ("unknown escape sequence"); it becomes the double-quoted string of the same value;
- `x @ end()[1d]`, `x @ start()[5m]`: Prometheus 2.42 refuses an `@` before a range only
  when it is a timestamp (`x @ 100[1d]`), and evaluates these as `x[1d] @ end()`, which
  is what promql-parser is given;
- `holt_winters(...)`: renamed `double_exponential_smoothing` in Prometheus 3, same
  signature.
"""

from __future__ import annotations

import re

# PromQL tokens: strings (escapes; backticks are raw), comments, numbers and durations (no
# `:`, which separates them in `[5m:1m]`), names (with the `:` of recording rule names; a
# leading one is a token of its own, as in `[5m:1m]`),
# blanks, two-character operators, any other character. Just enough to tell a name or an
# operator from the same letters in a string, and to say where a token starts.
TOKEN = re.compile(
    "|".join(
        (
            r'"(?:\\.|[^"\\])*"?',
            r"'(?:\\.|[^'\\])*'?",
            r"`[^`]*`?",
            r"#[^\n]*",
            r"[0-9.][A-Za-z0-9_.]*",
            r"[A-Za-z_][A-Za-z0-9_:.]*",
            r"\s+",
            r"==|!=|>=|<=|=~|!~",
            r".",
        )
    ),
    re.DOTALL,
)

RENAMED = {"holt_winters": "double_exponential_smoothing"}
_STEP = ("start", "end")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def for_parser(expr: str) -> str:
    """`expr` as promql-parser reads what Prometheus 2.42 reads (module docstring)."""
    if "`" not in expr and "@" not in expr and not any(old in expr for old in RENAMED):
        return expr  # the common case costs three substring searches
    tokens = TOKEN.findall(expr)
    for i, token in enumerate(tokens):
        if token in RENAMED and next_code(tokens, i + 1)[0] == "(":
            tokens[i] = RENAMED[token]
        elif token.startswith("`") and len(token) > 1 and token.endswith("`"):
            tokens[i] = '"' + "".join(_ESCAPES.get(c, c) for c in token[1:-1]) + '"'
        elif token == "@":
            _move_step_after_range(tokens, i)
    return "".join(tokens)


def next_code(tokens: list[str], start: int) -> tuple[str, int]:
    """The next token that is neither blank nor a comment (Prometheus skips both), and
    its index; ("", len) at the end."""
    for i in range(start, len(tokens)):
        token = tokens[i]
        if not token.isspace() and not token.startswith("#"):
            return token, i
    return "", len(tokens)


def _move_step_after_range(tokens: list[str], at: int) -> None:
    """`@ end() [1d]` → `[1d] @ end()` (the `@` is at tokens[at])."""
    word, i = next_code(tokens, at + 1)
    if word.lower() not in _STEP:
        return
    opening, j = next_code(tokens, i + 1)
    closing, k = next_code(tokens, j + 1)
    bracket, b = next_code(tokens, k + 1)
    if (opening, closing, bracket) != ("(", ")", "["):
        return
    end = b
    while end < len(tokens) and tokens[end] != "]":
        end += 1
    if end == len(tokens) or ":" in tokens[b:end]:
        return  # unclosed (the parser says so), or a subquery (promql-parser reads those)
    modifier = "".join(tokens[at : k + 1])
    for n in range(at, b):
        tokens[n] = ""
    tokens[end] = "] " + modifier

"""Go's template syntax (`text/template/parse`), just enough to find function calls.

A faithful port of Go's lexer (`lex.go`): text, actions between `{{`/`}}` with the
`{{- `/` -}}` trim markers, `{{/* comments */}}`, quoted strings with escapes, raw strings,
characters, numbers, fields (`.query`, `$labels.query`), variables and parentheses; and of
the parts of `parse.go` that build pipelines (declarations, commands, `|` stages, operands
with field chains, parenthesised pipelines). Control structure (`if`/`end` nesting) is not
rebuilt: every action's pipelines are returned, wherever they are. A text Go would refuse
raises TemplateSyntaxError; so does one nested deeper than MAX_PAREN_DEPTH.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_PAREN_DEPTH = 50
_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "template"}
_KEYWORDS |= {"with"}
_TERMS = {"ident", "field", "variable", "string", "raw", "char", "number", "bool", "nil", "dot"}
_TERMS |= {"("}
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?"
    r"|0[oO][0-7_]*|0[bB][01_]*"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)i?"
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPES |= {"\\": "\\", '"': '"'}
_NUMERIC_ESCAPES = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}
_DIGITS = {8: re.compile("[0-7]+"), 16: re.compile("[0-9a-fA-F]+")}


class TemplateSyntaxError(ValueError):
    """The text is not a Go template Prometheus could parse."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident field variable string raw char number bool nil dot ( ) | := = , space end
    text: str


@dataclass
class Command:
    args: list[Operand] = field(default_factory=list)


@dataclass
class Pipeline:
    commands: list[Command] = field(default_factory=list)
    decl: list[str] = field(default_factory=list)  # $x := / $i, $e := / $x = ...
    assign: bool = False  # `=` (reassigns a declared variable) rather than `:=`


@dataclass
class Action:
    """One action: `keyword` is None for a plain pipeline, else if, range, with, define,
    block, template, else, else if, else with, end, break or continue."""

    keyword: str | None
    pipelines: list[Pipeline]


@dataclass
class Operand:
    term: Token | Pipeline
    fields: list[str] = field(default_factory=list)  # .a.b chained onto the term


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def lex_actions(text: str) -> list[list[Token]]:
    """The tokens of every action (comments and text between actions dropped)."""
    return [item for item in lex_items(text) if not isinstance(item, str)]


def lex_items(text: str) -> list[str | list[Token]]:
    """The text between actions (as written, before trimming) and the tokens of every
    action, in order; comments dropped."""
    actions: list[str | list[Token]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                actions.append(text[pos:])
            return actions
        if start > pos:
            actions.append(text[pos:start])
        pos = start + 2
        if text[pos : pos + 1] == "-" and text[pos + 1 : pos + 2] in tuple(_SPACE):
            pos += 2
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise TemplateSyntaxError("unclosed comment")
            pos = end + 2
            close = _right_delim(text, pos)
            if close is None:
                raise TemplateSyntaxError("comment ends before closing delimiter")
            pos = close
            continue
        tokens, pos = _lex_action(text, pos)
        actions.append(tokens)


def _right_delim(text: str, pos: int) -> int | None:
    """The position after `}}` or ` -}}` at `pos`, else None."""
    if text[pos : pos + 1] in tuple(_SPACE) and text.startswith("-}}", pos + 1):
        return pos + 4
    if text.startswith("}}", pos):
        return pos + 2
    return None


def _lex_action(text: str, pos: int) -> tuple[list[Token], int]:
    tokens: list[Token] = []
    depth = 0
    n = len(text)
    while True:
        close = _right_delim(text, pos)
        if close is not None:
            if depth:
                raise TemplateSyntaxError("unclosed left paren")
            tokens.append(Token("end", "}}"))
            return tokens, close
        if pos >= n:
            raise TemplateSyntaxError("unclosed action")
        ch = text[pos]
        start = pos
        if ch in _SPACE:
            while pos < n and text[pos] in _SPACE:
                pos += 1
            if text.startswith("-}}", pos):
                pos -= 1  # ` -}}`: the last blank belongs to the trim marker
            if pos > start:
                tokens.append(Token("space", text[start:pos]))
            continue
        if ch in "()":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                raise TemplateSyntaxError("unexpected right paren")
            if depth > MAX_PAREN_DEPTH:  # the parser recurses per level: bound it
                raise TemplateSyntaxError(f"parentheses nested deeper than {MAX_PAREN_DEPTH}")
            tokens.append(Token(ch, ch))
            pos += 1
            continue
        token, pos = _lex_token(text, pos, ch)
        tokens.append(token)


def _lex_token(text: str, pos: int, ch: str) -> tuple[Token, int]:
    """The token at `pos` (starting with `ch`; neither a blank nor a parenthesis) and the
    position after it."""
    start = pos
    if ch == "=":
        return Token("=", ch), pos + 1
    if ch == ":":
        if not text.startswith(":=", pos):
            raise TemplateSyntaxError("expected :=")
        return Token(":=", ":="), pos + 2
    if ch in "|,":
        return Token(ch, ch), pos + 1
    if ch in "\"'":
        pos = _lex_quote(text, pos, ch)
        return Token("string" if ch == '"' else "char", text[start:pos]), pos
    if ch == "`":
        end = text.find("`", pos + 1)
        if end < 0:
            raise TemplateSyntaxError("unterminated raw quoted string")
        return Token("raw", text[start : end + 1]), end + 1
    if ch == "$":
        pos = _lex_word(text, pos + 1)
        return Token("variable", text[start:pos]), pos
    if ch == "." and not "0" <= text[pos + 1 : pos + 2] <= "9":
        pos = _lex_word(text, pos + 1)
        return Token("field" if pos > start + 1 else "dot", text[start:pos]), pos
    if ch in "+-." or "0" <= ch <= "9":
        pos = _lex_number(text, pos)
        return Token("number", text[start:pos]), pos
    if _is_alnum(ch):
        pos = _lex_word(text, pos)
        word = text[start:pos]
        kind = "keyword" if word in _KEYWORDS else "ident"
        kind = "bool" if word in ("true", "false") else "nil" if word == "nil" else kind
        return Token(kind, word), pos
    raise TemplateSyntaxError(f"unexpected {ch!r} in action")


def _lex_quote(text: str, pos: int, quote: str) -> int:
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] != "\n":
            pos += 2
            continue
        if ch == "\n" or ch == "\\":
            break
        pos += 1
        if ch == quote:
            return pos
    raise TemplateSyntaxError("unterminated quoted string")


def _lex_word(text: str, pos: int) -> int:
    while pos < len(text) and _is_alnum(text[pos]):
        pos += 1
    if pos < len(text) and text[pos] not in _SPACE + ".,|:()}":  # Go's atTerminator
        raise TemplateSyntaxError(f"bad character {text[pos]!r}")
    return pos


def _lex_number(text: str, pos: int) -> int:
    found = _NUMBER.match(text, pos)
    end = found.end() if found else pos + 1
    if end < len(text) and text[end] in "+-":  # complex, e.g. 1+2i
        more = _NUMBER.match(text, end)
        end = more.end() if more else end + 1
        if text[end - 1] != "i":
            raise TemplateSyntaxError("bad number syntax")
    if end < len(text) and _is_alnum(text[end]):
        raise TemplateSyntaxError("bad number syntax")
    return end


class _Parser:
    """Go's parse.go over one action's tokens, keeping only pipelines and commands."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens + [Token("eof", "")] * 4  # lookahead never runs off the end
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def next_non_space(self) -> Token:
        while self.tokens[self.pos].kind == "space":
            self.pos += 1
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def peek_non_space(self) -> Token:
        saved, token = self.pos, self.next_non_space()
        self.pos = saved
        return token

    def action(self) -> list[Pipeline]:
        self.keyword: str | None = None
        first = self.peek_non_space()
        if first.kind != "keyword":
            return [self.pipeline("end")]
        self.next_non_space()
        word = self.keyword = first.text
        if word == "else":
            after = self.peek_non_space()
            if after.kind == "keyword" and after.text in ("if", "with"):
                self.next_non_space()
                word = after.text
                self.keyword = f"else {word}"
        if word in ("template", "block", "define"):
            name = self.next_non_space()
            if name.kind not in ("string", "raw"):
                raise TemplateSyntaxError(f"bad name in {word}")
            if self.peek_non_space().kind == "end" and word != "block":
                return []
            return [self.pipeline("end")]
        if word in ("if", "range", "with"):
            return [self.pipeline("end")]
        if self.next_non_space().kind != "end":
            raise TemplateSyntaxError(f"unexpected token after {word}")
        return []

    def pipeline(self, end: str) -> Pipeline:
        pipe = Pipeline()
        saved = self.pos  # declarations: $x := / $x = / $i, $e :=
        first, second = self.next_non_space(), self.next_non_space()
        if first.kind == "variable" and second.kind == ",":
            pipe.decl.append(first.text)
            first, second = self.next_non_space(), self.next_non_space()
        if first.kind != "variable" or second.kind not in (":=", "="):
            self.pos, pipe.decl = saved, []
        else:
            pipe.decl.append(first.text)
            pipe.assign = second.kind == "="
        while True:
            token = self.next_non_space()
            if token.kind == end:
                if not pipe.commands:
                    raise TemplateSyntaxError("missing value")
                return pipe
            if token.kind not in _TERMS:
                raise TemplateSyntaxError(f"unexpected {token.text!r}")
            self.pos -= 1
            pipe.commands.append(self.command())

    def command(self) -> Command:
        cmd = Command()
        while True:
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.tokens[self.pos]
            self.pos += 1
            if token.kind == "space":
                continue
            if token.kind in ("end", ")"):
                self.pos -= 1
            elif token.kind != "|":
                raise TemplateSyntaxError(f"unexpected {token.text!r} in operand")
            break
        if not cmd.args:
            raise TemplateSyntaxError("empty command")
        return cmd

    def operand(self) -> Operand | None:
        token = self.next_non_space()
        if token.kind not in _TERMS:
            self.pos -= 1
            return None
        operand = Operand(self.pipeline(")") if token.kind == "(" else token)
        while self.peek().kind == "field":
            operand.fields.append(self.peek().text)
            self.pos += 1
        return operand


def parse_actions(text: str) -> list[Pipeline]:
    """The pipelines of every action of `text`, in order."""
    items = parse_items(text)
    return [pipe for item in items if isinstance(item, Action) for pipe in item.pipelines]


def parse_items(text: str) -> list[str | Action]:
    """The text between actions and every action of `text`, in order."""
    items: list[str | Action] = []
    for item in lex_items(text):
        if isinstance(item, str):
            items.append(item)
            continue
        parser = _Parser(item)
        try:
            pipes = parser.action()
        except IndexError as exc:  # a shape the parser did not foresee: refuse, never crash
            raise TemplateSyntaxError("unexpected end of action") from exc
        items.append(Action(parser.keyword, pipes))
    return items


def unquote(literal: str) -> str:
    """The value of a Go string literal, as strconv.Unquote gives it."""
    if literal.startswith("`"):
        return literal[1:-1].replace("\r", "")
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        i += 1
        if ch != "\\":
            out.append(ch)
            continue
        esc = body[i]
        i += 1
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            continue
        width, base = _NUMERIC_ESCAPES.get(esc, (0, 0))
        if esc in "01234567":
            width, base, i = 3, 8, i - 1
        digits = body[i : i + width]
        i += width
        if not width or len(digits) != width or not _DIGITS[base].fullmatch(digits):
            raise TemplateSyntaxError(f"invalid escape \\{esc} in a string")
        value = int(digits, base)
        # \x and octal escapes are bytes in Go: above 0x7f they would not be the character
        # Python reads, so they are refused rather than guessed.
        high = 0x7F if esc not in "uU" else 0x10FFFF
        if value > high or 0xD800 <= value < 0xE000:
            raise TemplateSyntaxError(f"invalid escape \\{esc}{digits[width == 3 :]} in a string")
        out.append(chr(value))
    return "".join(out)

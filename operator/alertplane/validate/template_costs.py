"""What each Go template function can build: the size algebra of template_limits.py.

A value's size is `k·X + c` (`Size`): X the size of the data the template reads, `c` bytes
the template itself adds. This module holds that algebra and the cost of each function a
Prometheus or Alertmanager template may call (printf's widths, reReplaceAll's replacement,
join's separator, the escaping functions' worst ratios); template_limits.py walks a
template's structure (blocks, ranges, variables) and adds these up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .gotemplate import Operand, Pipeline, TemplateSyntaxError, unquote

MAX_WIDTH = 200  # printf width or precision
_CAP = 1 << 62  # sizes saturate here: the arithmetic stays cheap on any input

# Worst output/input byte ratios: ToUpper of invalid UTF-8 (1 byte → U+FFFD, 3 bytes);
# js escapes one byte as \u003C (6 bytes).
_SCALE = {"toUpper": 3, "toLower": 3, "title": 3, "html": 6, "js": 6, "urlquery": 3}
_SCALE |= {"graphLink": 3, "tableLink": 3}
# Results that never grow with their arguments.
_SMALL = {"len", "not", "eq", "ne", "lt", "le", "gt", "ge", "match", "toTime"}
_SMALL |= {"humanize", "humanize1024", "humanizeDuration", "humanizePercentage"}
_SMALL |= {"humanizeTimestamp", "externalURL", "pathPrefix"}
# One of the arguments (or a part of one).
_PART = {"and", "or", "index", "slice", "first", "label", "value", "strvalue", "sortByLabel"}
_PART |= {"safeHtml"}
# Go's fmt: %, flags, [index], width or *, .[index] precision or *, [index], verb.
_VERB = re.compile(r"%[-+# 0]*(\[\d*\])?(\*|\d*)(?:\.(\[\d*\])?(\*|\d*))?(\[\d*\])?.?", re.S)


@dataclass(frozen=True)
class Size:
    """At most `k`·X + `c` bytes, X the size of the data the template reads."""

    k: int = 0
    c: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(min(self.k + other.k, _CAP), min(self.c + other.c, _CAP))

    def times(self, n: int) -> Size:
        return Size(min(self.k * n, _CAP), min(self.c * n, _CAP))

    def join(self, other: Size) -> Size:
        return Size(max(self.k, other.k), max(self.c, other.c))


DATA = Size(1, 0)
SMALL = Size(0, 64)
_PLATFORM = Size(0, 2048)  # externalURL and the like: the platform's own, short


class Refused(Exception):
    """The template's cost cannot be bounded, or its bound is too high."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def function_cost(name: str, operands: list[Operand], args: list[Size]) -> Size:
    """What calling the function `name` on `operands` (whose sizes are `args`, the piped
    value last) can build."""
    if name == "printf":
        return printf_cost(operands, args)
    if name == "reReplaceAll":
        return replace_cost(operands, args)
    if name == "join":
        return join_cost(args)
    if name in _SMALL:
        return SMALL if name not in ("externalURL", "pathPrefix") else _PLATFORM
    if name in _PART:
        return _max(args)
    if name in _SCALE:
        extra = _PLATFORM if name in ("graphLink", "tableLink") else Size()
        return _max(args).times(_SCALE[name]) + extra
    # print, println, args, stringSlice, call and anything else: all the arguments.
    total = Size(0, 16 * (len(args) + 1))
    for arg in args:
        total = total + arg
    return total


def printf_cost(operands: list[Operand], args: list[Size]) -> Size:
    """printf: its literal format, each verb's width and what it prints of its argument."""
    fmt = _literal(operands[0] if operands else None)
    if fmt is None:
        raise Refused(
            "printf's format is not a literal string",
            'write the format in quotes, e.g. {{ printf "%.2f" $value }}',
        )
    values = args[1:]
    total = Size(0, len(fmt.encode("utf-8", "surrogatepass")))
    used = 0
    for m in _VERB.finditer(fmt):
        if m.group(0) == "%%":
            continue
        spec, width, precision = m.group(0), m.group(2) or "0", m.group(4) or "0"
        if "*" in (width, precision):
            raise Refused(
                f"printf {spec!r} takes its width or precision from an argument",
                f"write the width as a number up to {MAX_WIDTH}",
            )
        wide = _number(width) + _number(precision)
        if max(_number(width), _number(precision)) > MAX_WIDTH:
            raise Refused(
                f"printf {_short(spec)!r} has a width or precision above {MAX_WIDTH}",
                f"use a width and precision up to {MAX_WIDTH}",
            )
        index = m.group(1) or m.group(3) or m.group(5)
        if index:
            used = _number(index[1:-1]) - 1
        arg = values[used] if 0 <= used < len(values) else Size()
        used += 1
        # %q, %x, %#v quote or hex-encode: at most 8 bytes per byte; a float's %f has
        # up to 309 digits before its point.
        total = total + arg.times(8) + Size(0, wide + 400)
    for arg in values:  # %!(EXTRA ...) prints the arguments no verb took
        total = total + arg + Size(0, 32)
    return total


def replace_cost(operands: list[Operand], args: list[Size]) -> Size:
    """reReplaceAll with a literal replacement."""
    repl = _literal(operands[1]) if len(operands) >= 2 else None
    if repl is None:
        raise Refused(
            "reReplaceAll's replacement is not a literal string",
            'write the replacement in quotes, e.g. reReplaceAll ":.*" "" $labels.instance',
        )
    # Every match (at most X + 1 of them) becomes the replacement, each $-reference
    # copying at most the whole input.
    size = len(repl.encode("utf-8", "surrogatepass"))
    return args[-1].times(1 + repl.count("$") + size) + Size(0, size)


def join_cost(args: list[Size]) -> Size:
    """join with a literal separator."""
    if len(args) != 2:
        return _max(args)
    sep, items = args
    if sep.k:
        raise Refused(
            "join's separator is not a literal string",
            'write the separator in quotes, e.g. {{ join ", " .Values }}',
        )
    return items.times(1 + sep.c)  # at most one separator per byte of the items


def _literal(operand: Operand | None) -> str | None:
    """The value of a string literal operand, else None."""
    if operand is None or operand.fields or isinstance(operand.term, Pipeline):
        return None
    if operand.term.kind not in ("string", "raw"):
        return None
    try:
        return unquote(operand.term.text)
    except TemplateSyntaxError:
        return None  # a byte escape: not read here, so not trusted


def _number(digits: str) -> int:
    """Go's fmt reads at most 7 digits of a width (parsenum); more means too large here."""
    return int(digits) if digits and len(digits) <= 7 else (0 if not digits else _CAP)


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:17] + "..."


def _max(args: list[Size]) -> Size:
    out = Size()
    for arg in args:
        out = out.join(arg)
    return out


def count(n: int) -> str:
    return f"{n:,}" if n < _CAP else "unbounded"

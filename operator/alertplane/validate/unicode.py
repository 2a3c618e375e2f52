"""Strings no database, promtool or amtool can hold: NUL characters and UTF-16 surrogates.

JSON (`"\\ud800"`), YAML (`"\\ud800"`) and undecodable stdin bytes (surrogateescape) can
all put a lone surrogate into a Python string; PostgreSQL, UTF-8 encoders and the tools'
YAML parsers refuse it later, far from the field that carried it. Every door parses
through `parse_document`, which refuses surrogates first, each with its field path, the
code point, where it is in the value and what to do: one check, one message. The REST
API also refuses NUL in any body up front (PostgreSQL cannot store it) with the same words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import Problem

_BAD = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_REPORTED = 10  # a body of a million bad strings is refused with a few lines, not all


def text_problem(path: str, value: str, what: str = "", nul: bool = True) -> Problem | None:
    """Why `value` (found at `path`; `what` e.g. "the key") is no storable text; with
    `nul` False only surrogates count (the models refuse NUL with their own words)."""
    found = (_BAD if nul else _SURROGATE).search(value)
    if found is None:
        return None
    at = found.start()
    char = value[at]
    subject = f"{what} contains" if what else "contains"
    where = f"at character {at + 1} of {len(value)} ({_around(value, at)})"
    if char == "\x00":
        return Problem(
            path,
            f"{subject} a NUL character (U+0000) {where}, which no database stores",
            "remove it",
        )
    code = ord(char)
    low = value[at + 1] if at + 1 < len(value) else ""
    if 0xD800 <= code <= 0xDBFF and low and 0xDC00 <= ord(low) <= 0xDFFF:
        # "\ud83d\ude00" written as two YAML escapes: UTF-16, not the character.
        combined = 0x10000 + ((code - 0xD800) << 10) + (ord(low) - 0xDC00)
        return Problem(
            path,
            f"{subject} the UTF-16 surrogate pair U+{code:04X} U+{ord(low):04X} {where}, "
            "which is not valid Unicode (a YAML \\u escape names one code point, not half)",
            f"write the character U+{combined:X} itself, or the escape \\U{combined:08X}",
        )
    return Problem(
        path,
        f"{subject} an unpaired UTF-16 surrogate (U+{code:04X}) {where}, "
        "which is not valid Unicode",
        "remove it (it is half of an encoded character, not text)",
    )


def _around(value: str, at: int) -> str:
    """The value near `at`, quoted with the bad character escaped (never raw in a message:
    a response or log line holding it could not be encoded)."""
    start, end = max(0, at - 12), min(len(value), at + 13)
    shown = repr(value[start:end]).replace("\x00", "\\x00")
    return ("…" if start else "") + shown + ("…" if end < len(value) else "")


def path_key(key: str) -> str:
    """A mapping key as a path segment; quoted when a newline or control character in it
    would split or garble the one line per problem."""
    return key if key.isprintable() else repr(key)


def encodable(data: Any) -> bool:
    """True when every string in `data` (keys included) is valid UTF-8 text, i.e. holds no
    lone surrogate: one pass in C (json), about twice as fast as `text_problems`' walk,
    which then only runs for the rare document that fails it. False also when json cannot
    say (odd types, depth): the walk decides those."""
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return False
    return True


def text_problems(data: Any, root: str = "", nul: bool = True) -> list[Problem]:
    """Every string (mapping keys included) in `data` that is no storable text, in
    document order, at most `MAX_REPORTED`; paths as `loc_path` writes them. Iterative:
    a deeply nested document is refused elsewhere, never by a RecursionError here."""
    out: list[Problem] = []
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack and len(out) < MAX_REPORTED:
        path, value = stack.pop()
        if isinstance(value, str):
            found = text_problem(path, value, nul=nul)
            if found is not None:
                out.append(found)
        elif isinstance(value, dict):
            children: list[tuple[str, Any]] = []
            for key, item in value.items():
                if isinstance(key, str):
                    bad_key = text_problem(path, key, "the key", nul)
                    if bad_key is not None:  # no path through a key that cannot be shown
                        out.append(bad_key)
                        continue
                    key = path_key(key)
                children.append((f"{path}.{key}" if path else str(key), item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return out[:MAX_REPORTED]

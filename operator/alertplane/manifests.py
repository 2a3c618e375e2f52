"""Reading kubectl-style manifests: files, directories (recursive), multi-document YAML, stdin.

Only I/O and YAML live here; turning documents into models is `validate.schema`'s job.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from .errors import Problem, Source, UsageError

try:  # libyaml is ~10x faster on large manifest sets; fall back when it is not built.
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml")
# libyaml's composer recurses in C once per nesting level: tens of thousands of levels
# overflow the stack and kill the process. Manifests need well under ten levels.
MAX_DEPTH = 100
_DOCUMENT_MARKER = re.compile(r"^(?=(?:---|\.\.\.)(?:[ \t\r]|$))", re.MULTILINE)


@dataclass(frozen=True)
class Document:
    source: Source
    data: Any


@dataclass
class Loaded:
    documents: list[Document]
    problems: list[Problem]


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given, directories walked recursively in sorted order, '-' kept for stdin."""
    out: list[str] = []
    for raw in paths:
        if raw == "-":
            out.append(raw)
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES
            )
            if not found:
                raise UsageError(
                    f"{raw}: no .yaml or .yml files in this directory", "check the path given to -f"
                )
            out.extend(found)
        elif path.is_file():
            out.append(raw)
        else:
            raise UsageError(f"{raw}: no such file or directory", "check the path given to -f")
    return out


def load_paths(paths: Iterable[str], stdin: IO[str] | None = None) -> Loaded:
    loaded = Loaded([], [])
    for order, name in enumerate(expand_paths(paths), start=1):
        if name == "-":
            text = (stdin or sys.stdin).read()
            _load_text(text, "<stdin>", loaded, order)
            continue
        try:
            text = Path(name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            loaded.problems.append(
                Problem(
                    "",
                    "file is not UTF-8 text",
                    "save it as UTF-8",
                    source=Source(name, order=order),
                )
            )
            continue
        except OSError as exc:
            raise UsageError(f"{name}: cannot read: {exc.strerror}") from exc
        _load_text(text, name, loaded, order)
    return loaded


def load_text(text: str, name: str = "<input>", lists: bool = True) -> Loaded:
    """Documents of `text`; `lists=False` keeps a `kind: List` as one document (for YAML
    files that are not manifests, read with the same checks and messages)."""
    loaded = Loaded([], [])
    _load_text(text, name, loaded, lists=lists)
    return loaded


def _load_text(text: str, name: str, loaded: Loaded, order: int = 0, lists: bool = True) -> None:
    index = 0
    try:
        too_deep = _too_deep(text)
        if too_deep is not None:
            index, line = too_deep
            loaded.problems.append(
                Problem(
                    "",
                    f"nesting deeper than {MAX_DEPTH} levels",
                    "flatten the document; a manifest needs only a few levels",
                    source=Source(name, index, line, order=order),
                )
            )
            return
        for index, (line, data) in enumerate(_documents(text), start=1):
            if data is None:
                continue  # an empty document, e.g. a trailing '---'
            for item in _expand_list(data) if lists else [data]:
                loaded.documents.append(Document(Source(name, index, line, order=order), item))
    except UnicodeEncodeError:  # lone surrogates: stdin's undecodable bytes
        loaded.problems.append(
            Problem(
                "", "input is not UTF-8 text", "save it as UTF-8", source=Source(name, order=order)
            )
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        column = f", column {mark.column + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "cannot parse"
        message, hint = _bad_escape(text, mark) or (
            what,
            "fix the YAML syntax (indentation, quoting, ':' after keys)",
        )
        loaded.problems.append(
            Problem(
                "",
                f"invalid YAML{column}: {message}",
                hint,
                source=Source(name, index + 1, line, order=order),
            )
        )
    except yaml.YAMLError as exc:
        line = 0
        if isinstance(exc, yaml.reader.ReaderError):  # e.g. a control character
            line = _line_at(text, exc.position)
        loaded.problems.append(
            Problem(
                "",
                f"invalid YAML: {str(exc).splitlines()[0]}",
                "fix the YAML syntax",
                source=Source(name, 0, line, order=order),
            )
        )


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def _bad_escape(text: str, mark: yaml.Mark | None) -> tuple[str, str] | None:
    """(message, hint) for libyaml's "found invalid Unicode character escape code": which
    escape, and why (a UTF-16 surrogate such as \\ud800 is half a character, not one)."""
    if mark is None:
        return None
    lines = text.split("\n")
    if mark.line >= len(lines):
        return None
    # libyaml's mark is inside the escape it refuses: the last one starting at or before it.
    found = [m for m in _ESCAPE.finditer(lines[mark.line]) if m.start() <= mark.column]
    codes = [(m.group(0), int(m.group(1)[1:], 16)) for m in found[-1:]]
    bad = [(e, c) for e, c in codes if 0xD800 <= c <= 0xDFFF or c > 0x10FFFF]
    if not bad:
        return None
    escape, code = bad[-1]
    if code > 0x10FFFF:
        return f"the escape {escape} is beyond Unicode (at most \\U0010FFFF)", "fix the escape"
    return (
        f"the escape {escape} is a UTF-16 surrogate (U+{code:04X}), half of an encoded "
        "character, not a character",
        "remove it, or write the character itself (a \\U escape of 8 hex digits for one "
        "beyond U+FFFF, e.g. \\U0001F600)",
    )


def _line_at(text: str, position: int) -> int:
    # libyaml reports a byte offset into the UTF-8 text, the pure-Python reader a character.
    if _Loader is yaml.SafeLoader:
        return text.count("\n", 0, position) + 1
    return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1


def _too_deep(text: str) -> tuple[int, int] | None:
    """(document, line) where nesting first exceeds MAX_DEPTH, if it does anywhere.

    Every nesting level starts at one of `[{-?:`, and no document spans a `---`/`...`
    line, so a chunk with at most MAX_DEPTH of them cannot be too deep: the (slower)
    event walk only runs for documents that could be.
    """
    if all(
        sum(chunk.count(c) for c in "[{-?:") <= MAX_DEPTH for chunk in _DOCUMENT_MARKER.split(text)
    ):
        return None
    loader = _Loader(text)
    depth = document = 0
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.DocumentStartEvent):
                document += 1
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return document, mark.line + 1 if mark is not None else 0
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None  # reported with its line by the real parse, which fails at the same spot
    finally:
        loader.dispose()
    return None


def _documents(text: str) -> Iterator[tuple[int, Any]]:
    """(1-based start line, data) per YAML document, keeping line numbers for messages."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


def _expand_list(data: Any) -> list[Any]:
    # `kubectl get -o yaml` prints a v1 List; accept it so its output can be fed back.
    if (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        return list(data["items"])
    return [data]

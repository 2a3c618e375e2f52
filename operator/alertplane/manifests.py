"""Reading kubectl-style manifests: files, directories (recursive), multi-document YAML, stdin.

Only I/O and YAML live here; turning documents into models is `validate.schema`'s job.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from .errors import Problem, Source, UsageError

try:  # libyaml is ~10x faster on large manifest sets; fall back when it is not built.
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml")
# libyaml's composer recurses in C once per nesting level: tens of thousands of levels
# overflow the stack and kill the process. Manifests need well under ten levels.
MAX_DEPTH = 100
# Documents (and `kind: List` items) per file or request body: 2x the 10,000-rule
# benchmark in one file. Beyond it the reading stops with a problem, so a body of tiny
# documents cannot make one request validate (and answer) millions of them.
MAX_DOCUMENTS = 20_000
_DOCUMENT_MARKER = re.compile(r"^(?=(?:---|\.\.\.)(?:[ \t\r]|$))", re.MULTILINE)


class _Unreadable(yaml.constructor.ConstructorError):
    hint = "quote the value if it is text, or correct it"


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Any value PyYAML cannot construct is a YAMLError with its line, never a bare
    ValueError: an integer longer than Python converts (4300 digits), a date such as
    2001-13-45. Only the constructors of such tags are wrapped: strings, mappings and
    sequences (nearly every node) keep their direct path."""


def _readable(construct: Any) -> Any:
    def guarded(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, yaml.YAMLError):
                raise
            raise _Unreadable(None, None, _unreadable(node, exc), node.start_mark) from None

    return guarded


for _tag, _construct in list(_Base.yaml_constructors.items()):
    if _tag is not None and _tag.rsplit(":", 1)[-1] not in ("str", "map", "seq"):
        _Loader.add_constructor(_tag, _readable(_construct))


@dataclass(frozen=True)
class Document:
    source: Source
    data: Any
    # The text the document was read from (shared by the file's documents, not copied),
    # so a problem can name the line:column of its field (validate/positions.py) without
    # keeping every parse tree; `item`: the index in a `kind: List`'s items, else -1.
    text: str | None = field(default=None, compare=False, repr=False)
    item: int = field(default=-1, compare=False)


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


def load_paths(
    paths: Iterable[str], stdin: IO[str] | None = None, into: Loaded | None = None
) -> Loaded:
    """`into`: where the documents go, as they are read (cli_render.py packs them)."""
    loaded = Loaded([], []) if into is None else into
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
        refused = _refused(text)
        if refused is not None:
            index, line, problem = refused
            loaded.problems.append(problem.at(source=Source(name, index, line, order=order)))
            return
        found, before = 0, len(loaded.documents)
        for index, (line, data) in enumerate(_documents(text), start=1):
            if data is None:
                continue  # an empty document, e.g. a trailing '---'
            items = _expand_list(data) if lists else [data]
            found += len(items)
            if found > MAX_DOCUMENTS:
                loaded.problems.append(
                    Problem(
                        "",
                        f"more than {MAX_DOCUMENTS} documents; none of them was read",
                        f"split the input into parts of at most {MAX_DOCUMENTS} objects",
                        source=Source(name, index, line, order=order),
                    )
                )
                del loaded.documents[before:]
                return
            listed = len(items) != 1 or items[0] is not data
            for n, item in enumerate(items):
                source = Source(name, index, line, order=order)
                loaded.documents.append(Document(source, item, text, n if listed else -1))
    except UnicodeEncodeError:  # lone surrogates: stdin's undecodable bytes
        loaded.problems.append(
            Problem(
                "", "input is not UTF-8 text", "save it as UTF-8", source=Source(name, order=order)
            )
        )
    except yaml.MarkedYAMLError as exc:
        loaded.problems.append(_marked_problem(text, exc, name, index + 1, order))
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


def _marked_problem(
    text: str, exc: yaml.MarkedYAMLError, name: str, index: int, order: int
) -> Problem:
    """The problem for a YAML error that knows where it is (document `index`, 1-based)."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 0
    column = f", column {mark.column + 1}" if mark is not None else ""
    what = exc.problem or exc.context or "cannot parse"
    message, hint = _bad_escape(text, mark) or (
        what,
        "fix the YAML syntax (indentation, quoting, ':' after keys)",
    )
    return Problem(
        "",
        f"invalid YAML{column}: {message}",
        getattr(exc, "hint", hint),
        source=Source(name, index, line, order=order),
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
    if _Base is yaml.SafeLoader:
        return text.count("\n", 0, position) + 1
    return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1


def too_deep(data: Any) -> bool:
    """Whether decoded data (JSON, an admission body) nests deeper than MAX_DEPTH: the
    limit the YAML reading enforces, for data that was decoded elsewhere. Iterative."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            if level > MAX_DEPTH:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, level + 1) for item in items if isinstance(item, dict | list))
    return False


TOO_DEEP_HINT = "flatten the document; a manifest needs only a few levels"


def _unreadable(node: yaml.Node, exc: Exception) -> str:
    value = node.value if isinstance(node.value, str) else ""
    if node.tag == "tag:yaml.org,2002:int":
        digits = sum(c.isdigit() for c in value)
        return f"an integer with {digits} digits is longer than can be read"
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f"cannot read {shown!r}: {exc}"


_ALIAS = Problem(
    "",
    "YAML aliases (*name) are not accepted",
    "write the value out where the alias is; an alias can make a small document expand "
    "without bound",
)
_TOO_DEEP = Problem("", f"nesting deeper than {MAX_DEPTH} levels", TOO_DEEP_HINT)


def _may_have_anchor(text: str) -> bool:
    """Whether an `&` in `text` could start an anchor (`&name`), which can only begin a
    node: at the start, after blanks, or after an indicator. Text with no such `&` has
    no anchor, so no alias in it can resolve (an alias to an unknown anchor is a YAML
    error). Most manifests have no `&` at all, or a few in URLs (`?a=1&b=2`)."""
    at = text.find("&")
    while at != -1:
        before = text[at - 1] if at else " "
        after = text[at + 1 : at + 2]
        if (before.isspace() or before in "[]{},:?!|>'\"-") and after.strip("[]{}, \t\r\n"):
            return True
        at = text.find("&", at + 1)
    return False


def _refused(text: str) -> tuple[int, int, Problem] | None:
    """(document, line, problem) for the first alias or nesting deeper than MAX_DEPTH.

    Both are found on the event stream, before anything is composed or constructed: an
    alias (a self-reference, or "billion laughs") turns a few bytes into a structure
    every later step walks forever. Every nesting level starts at one of `[{-?:`, and no
    document spans a `---`/`...` line, so when no chunk has more than MAX_DEPTH of them
    and no `&` can start an anchor, the (slower) event walk is skipped.
    """
    shallow = all(
        sum(chunk.count(c) for c in "[{-?:") <= MAX_DEPTH for chunk in _DOCUMENT_MARKER.split(text)
    )
    if shallow and not _may_have_anchor(text):
        return None
    loader = _Loader(text)
    depth = document = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            mark = event.start_mark
            line = mark.line + 1 if mark is not None else 0
            if isinstance(event, yaml.DocumentStartEvent):
                document += 1
            elif isinstance(event, yaml.AliasEvent):
                return document, line, _ALIAS
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return document, line, _TOO_DEEP
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        # libyaml >= 0.2.6 (PyYAML 6.0.4's wheels) has a nesting limit of its own (1,000),
        # which its scanner meets while looking ahead, before our count reaches MAX_DEPTH:
        # the same refusal, in our words. Any other error is reported with its line by the
        # real parse, which fails at the same spot.
        mark = getattr(exc, "problem_mark", None)
        if "maximum nesting depth" in str(exc) and mark is not None:
            return max(document, 1), mark.line + 1, _TOO_DEEP
        return None
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


def claimed_customer(data: dict[str, Any]) -> str | None:
    """The customer a document that failed to parse was meant for, as far as it says:
    its customer id however spelt, else its namespace (conventionally the customer's)."""
    spec, meta = data.get("spec"), data.get("metadata")
    for value in (
        spec.get("customerId") if isinstance(spec, dict) else None,
        spec.get("customer_id") if isinstance(spec, dict) else None,
        meta.get("namespace") if isinstance(meta, dict) else None,
    ):
        if isinstance(value, str) and value:
            return value
    return None

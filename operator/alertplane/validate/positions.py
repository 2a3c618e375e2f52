"""Where a problem's field is in its manifest file: `file:line:column`, as compilers print
it, so an editor jumps to `severity: bogus` rather than to the document's first line.

Positions cost nothing while input is valid: a document keeps a reference to the text it
was read from (manifests.Document.text), and only a file with problems is parsed again,
once, into YAML nodes (which know their marks). A field path (`spec.webhook[0].url`,
`spec.labels.app.kubernetes.io/name`: a key may hold dots) is followed key by key; a
field that is absent (`spec.expr: required`) names the deepest part that is there (the
`spec:` key), so every problem of a YAML document gets a position. Documents read from
JSON bodies, stored objects and the items of one `kind: List` (which share one source)
get none: their problems read as before.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Sequence

import yaml

from ..errors import Problem, Source
from ..manifests import Document

try:
    _Composer: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Composer = yaml.SafeLoader

_INDEX = re.compile(r"\[(\d+)\]")


def place(problems: Sequence[Problem], documents: Sequence[Document]) -> list[Problem]:
    """`problems` with `where` set for those of a document whose text is known."""
    if not any(p.source is not None and not p.where for p in problems):
        return list(problems)
    shared = Counter(d.source for d in documents)
    texts = {d.source: d.text for d in documents if d.text is not None and shared[d.source] == 1}
    # text (by identity) → document index → the problems of that document
    wanted: dict[int, tuple[str, dict[int, list[int]]]] = {}
    for n, p in enumerate(problems):
        text = texts.get(p.source) if p.source is not None and not p.where else None
        if text is not None and p.source is not None:
            _, by_doc = wanted.setdefault(id(text), (text, {}))
            by_doc.setdefault(p.source.document, []).append(n)
    out = list(problems)
    for text, by_doc in wanted.values():
        # One parse per file with problems, one document's nodes alive at a time.
        for index, root in _nodes(text, set(by_doc)):
            for n in by_doc[index]:
                p = out[n]
                assert p.source is not None  # grouped by it above
                where = _where(root, p.source, p.path, p.message, text)
                out[n] = dataclasses.replace(p, where=where) if where else p
    return out


def _nodes(text: str, wanted: set[int]) -> Iterator[tuple[int, yaml.Node]]:
    """(index, root node) of the `wanted` documents, numbered as manifests._documents
    numbers them (1-based, empty documents skipped)."""
    loader = _Composer(text)
    index = 0
    try:
        while wanted and loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            index += 1
            if index in wanted:
                wanted.discard(index)
                yield index, node
    except yaml.YAMLError:  # read once already; should it fail now, no more positions
        return
    finally:
        loader.dispose()


def _where(root: yaml.Node, source: Source, path: str, message: str, text: str) -> str:
    mark = position(root, path)
    if mark is None:
        return ""
    inner = _INNER.search(message)
    if inner is not None:  # a PromQL problem at line:column of the expression itself
        value = _value(root, path)
        at = _within(value, text, int(inner.group(1)), int(inner.group(2))) if value else None
        mark = at or mark
    return f"{source.file}:{mark[0]}:{mark[1]}"


# promql.py / promql_position.py: `invalid PromQL at 2:7: ...` (line:column in the expr)
_INNER = re.compile(r"\bPromQL at (\d+):(\d+)")


def _value(root: yaml.Node, path: str) -> yaml.ScalarNode | None:
    node, rest = root, path
    while rest:
        step = _step(node, rest)
        if step is None:
            return None
        _, node, rest = step
    return node if isinstance(node, yaml.ScalarNode) else None


def _within(node: yaml.ScalarNode, text: str, line: int, column: int) -> tuple[int, int] | None:
    """The file position of (line, column) of a scalar's text, where the YAML spelling
    keeps the text's shape: a literal block (`|`), or one line written as is (plain or
    quoted without escapes). Folded and escaped scalars: None (the field's position)."""
    start = node.start_mark
    raw = text[start.index : node.end_mark.index]
    if node.style == "|":
        header, *body = raw.split("\n")
        if line > len(body) or any(c.isdigit() for c in header):  # `|2`: explicit indent
            return None
        # The block's indentation is its first non-empty line's (no explicit indicator:
        # alertplane's own output and kubectl's never write one).
        first = next((b for b in body if b.strip()), "")
        indent = len(first) - len(first.lstrip(" "))
        return (start.line + 1 + line, indent + column)
    if line != 1 or "\n" in node.value:
        return None
    if node.style in (None, "") and raw == node.value:
        return (start.line + 1, start.column + column)
    if node.style in ("'", '"') and raw[1:-1] == node.value:
        return (start.line + 1, start.column + 1 + column)
    return None


def position(root: yaml.Node, path: str) -> tuple[int, int] | None:
    """1-based (line, column) of the field at `path` under `root` (its key for a mapping
    entry, the item for a list entry), or of the deepest part of the path present; None
    for an empty path."""
    if not path:
        return None
    node, rest, found = root, path, None
    while rest:
        step = _step(node, rest)
        if step is None:
            break
        mark, node, rest = step
        found = (mark.line + 1, mark.column + 1)
    return found


def _step(node: yaml.Node, rest: str) -> tuple[yaml.Mark, yaml.Node, str] | None:
    """One step down: (the mark to report, the node below, the rest of the path)."""
    rest = rest.removeprefix(".")
    index = _INDEX.match(rest)
    if index is not None:
        if not isinstance(node, yaml.SequenceNode) or int(index.group(1)) >= len(node.value):
            return None
        item = node.value[int(index.group(1))]
        return item.start_mark, item, rest[index.end() :]
    if not isinstance(node, yaml.MappingNode):
        return None
    best: tuple[yaml.Node, yaml.Node] | None = None
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(name, str) or not _heads(rest, name):
            continue
        if best is None or len(name) > len(best[0].value):  # the longest key: dots in keys
            best = (key, value)
    if best is None:
        return None
    key, value = best
    return key.start_mark, value, rest[len(key.value) :]


def _heads(path: str, key: str) -> bool:
    return path == key or (path.startswith(key) and path[len(key)] in ".[")

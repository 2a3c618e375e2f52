"""The one path from documents to a verdict that every door (CLI, API, operator) shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import ObjectRef, Problem
from .manifests import Document
from .model import Resource
from .render import Rendered, render
from .render.platform import PlatformConfig
from .validate import Parsed, flagged_index, is_flagged, parse_documents, validate_all


@dataclass
class Outcome:
    parsed: list[Parsed]
    problems: list[Problem]
    invalid: set[ObjectRef] = field(default_factory=set)

    @property
    def valid(self) -> list[Resource]:
        index = flagged_index(self.problems)
        return [p.obj for p in self.parsed if not is_flagged(p, index)]

    @property
    def ok(self) -> bool:
        return not self.problems


def evaluate(
    documents: Sequence[Document],
    platform: PlatformConfig | None = None,
    tools: bool = True,
    earlier: Sequence[Problem] = (),
) -> Outcome:
    """Parse and validate; `earlier` carries problems found while loading (bad YAML)."""
    parsed, problems = parse_documents(documents)
    problems = [*earlier, *problems, *validate_all(parsed, platform, tools)]
    invalid = {p.obj for p in problems if p.obj is not None}
    return Outcome(parsed, _in_input_order(problems, parsed), invalid)


def render_valid(outcome: Outcome, platform: PlatformConfig) -> Rendered:
    return render(outcome.valid, platform)


def _in_input_order(problems: list[Problem], parsed: Sequence[Parsed]) -> list[Problem]:
    """Problems in input order: by file as first seen, then document, then as found."""
    seen: dict[str, tuple[int, int]] = {}
    for src in [p.source for p in parsed] + [p.source for p in problems]:
        if src is not None:
            seen.setdefault(src.file, (src.order, len(seen)))
    # Read order when the loader recorded it, else order of first appearance.
    files = {name: n for n, name in enumerate(sorted(seen, key=seen.__getitem__))}
    rank = {id(p): n for n, p in enumerate(problems)}

    def key(p: Problem) -> tuple[int, int, int]:
        if p.source is None:
            return (len(files), 0, rank[id(p)])
        return (files[p.source.file], p.source.document, rank[id(p)])

    return sorted(problems, key=key)

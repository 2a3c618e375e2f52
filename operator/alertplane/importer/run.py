"""One import: documents in, manifests plus per-item refusals and notes out.

Every rule either becomes a manifest or is refused with where it came from and why; nothing
is dropped silently, and one refusal never stops the rest (the doors' exit code or answer
says some were refused).
"""

from __future__ import annotations

from ..errors import Problem
from ..manifests import MAX_DOCUMENTS, Document, load_text
from .alerts import Converted, Options, convert
from .inject import Refused
from .naming import Names, pair_names
from .receivers import receivers_of
from .records import convert_record
from .result import Item, Output, Result
from .sources import ALERTMANAGER, NotRules, Rule, Where, groups_of


def import_text(text: str, name: str, options: Options) -> Result:
    """Import every document of `text` (YAML or JSON); the reading limits of manifests.py
    (aliases, nesting, document count) apply."""
    loaded = load_text(text, name, lists=False)
    result = Result()
    for problem in loaded.problems:
        result.refused.append(Item(_where(problem), problem.text()))
    import_documents(loaded.documents, options, result)
    return result


# Rules per import, like manifests.MAX_DOCUMENTS per file: each is parsed a few times, so
# a body of tiny rules must not make one request convert millions of them.
MAX_RULES = MAX_DOCUMENTS


def import_documents(documents: list[Document], options: Options, result: Result) -> None:
    names, record_names = Names(), Names()  # kinds differ: an alert's name frees no record's
    try:
        _convert_all(documents, options, result, names, record_names)
    finally:  # also when the rule limit stopped the import: what was converted is output
        pair_names(result.manifests, names)


def _convert_all(
    documents: list[Document], options: Options, result: Result, names: Names, record_names: Names
) -> None:
    for doc in documents:
        if len(result.outputs) + len(result.refused) > MAX_RULES:
            result.refused.append(Item(str(doc.source), _too_many()))
            return
        source = str(doc.source)
        try:
            groups = groups_of(doc.data, source)
        except NotRules as exc:
            result.refused.append(Item(source, str(exc)))
            continue
        if groups.kind == ALERTMANAGER:
            receivers_of(doc.data, source, options, names, result)
            continue
        result.notes.extend(Item(str(w), r) for w, r in groups.notes)
        for n, rule in enumerate(groups.entries):
            if len(result.outputs) + len(result.refused) >= MAX_RULES:
                where = rule.where if isinstance(rule, Rule) else rule[0]
                left = len(groups.entries) - n
                result.refused.append(Item(str(where), f"{_too_many()} ({left} left)"))
                return
            if not isinstance(rule, Rule):
                result.refused.append(Item(str(rule[0]), rule[1]))
                continue
            try:
                if "record" in rule.data:
                    done: Converted = convert_record(rule, options, record_names)
                else:
                    done = convert(rule, options, names)
            except Refused as exc:
                result.refused.append(Item(str(rule.where), str(exc)))
                continue
            result.outputs.append(Output(done.customer, rule.where.group, done.manifest))


def _too_many() -> str:
    return f"more than {MAX_RULES} rules in one import: the rest were not read; split the input"


def _where(problem: Problem) -> str:
    return str(problem.source) if problem.source is not None else "<input>"


def as_problems(items: list[Item]) -> list[Problem]:
    """Refusals as problems for the doors' answers (path = where, message = why)."""
    return [Problem(item.where, item.reason) for item in items]


__all__ = ["Item", "Options", "Output", "Result", "Where", "import_documents", "import_text"]

"""Templates that run queries: the isolation check for alert annotations and labels.

Prometheus expands every annotation and label of a firing alert as a Go template
(`text/template`) with its template functions. Of the functions Prometheus 2.42 offers,
only `query` reads series: it runs any PromQL over the whole TSDB, every customer's
series included. The others are harmless here: `first`, `label`, `value`, `strvalue`,
`sortByLabel` only take apart what `query` returned; `humanize*`, `toTime`, `title`,
`toUpper`/`toLower`, `match`, `reReplaceAll`, `args`, `safeHtml`, `graphLink`/`tableLink`
format values; `externalURL`/`pathPrefix` return the platform's URL; Go's builtins
(`printf`, `index`, `call`, ...) cannot reach a function by a computed name, and the
template's data (`.Labels`, `.ExternalLabels`, `.Value`) holds no functions for `call`.
So a template may run `query` only as `query "<PromQL>"` (or a raw `...` string), the
first command of a pipeline with that one literal argument, and the literal's value must
pass the same AST check as `spec.expr`. Any other appearance of the identifier `query`
(a piped-in or computed argument, a variable, `call query`, `(query).X`) is refused.

Whether a word is the identifier `query` is decided on Go's own syntax (gotemplate.py, a
port of Go's template lexer and pipeline parser): `.query` and `$labels.query` are fields,
`"query"` a string, `{{/* query */}}` a comment. A text without the letters `query` cannot
call it and is not tokenized. One that has them but cannot be read (Prometheus would refuse
it too) is refused: when in doubt, no query runs. Receiver templates are Alertmanager's,
which has no function that reads series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import Problem
from .gotemplate import (
    MAX_PAREN_DEPTH,
    Command,
    Operand,
    Pipeline,
    TemplateSyntaxError,
    parse_actions,
    unquote,
)
from .promql import TENANT_LABEL, check_expr

__all__ = [
    "MAX_PAREN_DEPTH",
    "QueryCall",
    "TemplateSyntaxError",
    "check_template_queries",
    "query_calls",
    "unquote",
]

FUNCTION = "query"


@dataclass(frozen=True)
class QueryCall:
    """One use of `query`: `literal` is the unquoted PromQL when the use is the allowed
    shape, else None and `why` says what the argument is."""

    literal: str | None
    why: str = ""


def query_calls(text: str) -> list[QueryCall]:
    """Every use of the `query` function in a template, in order; TemplateSyntaxError
    when the text is not a template Go could parse."""
    if FUNCTION not in text:
        return []
    calls: list[QueryCall] = []
    for pipe in parse_actions(text):
        _collect(pipe, calls)
    return calls


def _collect(pipe: Pipeline, calls: list[QueryCall]) -> None:
    for k, cmd in enumerate(pipe.commands):
        for j, operand in enumerate(cmd.args):
            term = operand.term
            if isinstance(term, Pipeline):
                _collect(term, calls)
            elif term.kind == "ident" and term.text == FUNCTION:
                calls.append(_classify(k, j, cmd, operand))


def _classify(k: int, j: int, cmd: Command, operand: Operand) -> QueryCall:
    if j > 0 or operand.fields:
        return QueryCall(None, "uses query as a value instead of calling it with a literal")
    if k > 0:
        return QueryCall(None, "pipes a computed value into query")
    if len(cmd.args) != 2:
        return QueryCall(None, f"calls query with {len(cmd.args) - 1} arguments")
    arg = cmd.args[1]
    if isinstance(arg.term, Pipeline) or arg.term.kind not in ("string", "raw") or arg.fields:
        return QueryCall(None, f"calls query with a computed argument {_show(arg)}")
    return QueryCall(unquote(arg.term.text))


def _show(operand: Operand) -> str:
    term = operand.term
    head = "(...)" if isinstance(term, Pipeline) else term.text
    shown = head + "".join(operand.fields)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def check_template_queries(path: str, text: str, customer_id: str) -> list[Problem]:
    """Problems with the `query` calls of one template at field `path`."""
    try:
        calls = query_calls(text)
    except TemplateSyntaxError as exc:
        return [
            Problem(
                path,
                f"the template mentions {FUNCTION} but cannot be read as a Go template: {exc}",
                'fix the template syntax; a template may only run query "<PromQL>" '
                f'with a literal that selects {TENANT_LABEL}="{customer_id}"',
            )
        ]
    want = f'{TENANT_LABEL}="{customer_id}"'
    problems: list[Problem] = []
    for call in calls:
        if call.literal is None:
            problems.append(
                Problem(
                    path,
                    f"the template {call.why}",
                    f"write the query as one string literal, e.g. "
                    f'{{{{ {FUNCTION} "up{{{want.replace(chr(34), chr(92) + chr(34))}}}" }}}}',
                )
            )
            continue
        shown = call.literal if len(call.literal) <= 80 else call.literal[:77] + "..."
        for problem in check_expr(call.literal, customer_id):
            quoted = json.dumps(shown, ensure_ascii=False)
            message = f"template runs {FUNCTION} {quoted}: {problem.message}"
            problems.append(Problem(path, message, problem.hint))
    return problems

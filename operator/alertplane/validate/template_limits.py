"""What one template may cost the shared Prometheus or Alertmanager on every evaluation.

Prometheus expands a firing alert's labels and annotations on every rule evaluation, and
Alertmanager a receiver's templates on every notification (alertplane's own validation runs
them too, with amtool). Go's text/template has no budget: a 30-byte
`{{ printf "%09999999d" 1 }}` writes 10 MB, each `| reReplaceAll "x" "xxxxxxxxxx"` stage
multiplies a string by ten, each `{{ $a = printf "%s%s" $a $a }}` doubles one, nested
`range`s multiply their bodies, and a `define` that calls itself twice runs for ever.

So every template is checked on Go's own syntax (gotemplate.py) by a bound on what it can
build. Every value gets a size `k·X + c`: X is the size of the data the template reads
(labels, values, query results, alerts), `c` bytes the template itself adds. Literals, text,
printf widths and replacements add to `c`; copying input (a label printed twice, a
reReplaceAll replacement with `$1`) adds to `k`; the functions that escape or upper-case
multiply by their worst ratio. A value or output beyond MAX_OUTPUT bytes of its own, or
copying its input more than MAX_COPIES times, is refused, as are the shapes whose cost no
such bound can hold: a non-literal printf format or `*` width, a width or precision above
MAX_WIDTH, a non-literal reReplaceAll replacement or join separator, a variable reassigned
inside a `range` that it outlives (it could double per element), a range over a whole
collection inside another (N² elements; a range over a part of the element is linear),
`query` inside a `range` (it would run once per element). `define`/`block` are refused by
fields.py. Soundness is tested against Go's own text/template (tests/adversarial/
test_template_resources.py). The bounds are far above what real templates reach:
Alertmanager's default.tmpl and the upstream shapes in the tests stay below a tenth of each.

This module walks a template's structure (blocks, ranges, variables, pipelines); the size
algebra and what each function costs (printf, reReplaceAll, join, ...) are template_costs.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import Problem
from .gotemplate import Action, Operand, Pipeline, TemplateSyntaxError, parse_items
from .template_costs import DATA, Refused, Size, count, function_cost

MAX_OUTPUT = 256 * 1024  # bytes a template adds itself, per value and in total
MAX_COPIES = 1024  # times a template may copy the data it reads (k)
MAX_OBJECT_OUTPUT = 1024 * 1024  # all the templates of one object together
MAX_OBJECT_COPIES = 4096
# A range multiplies its body by the elements of what it ranges over. Ranging over a part of
# the enclosing range's element (`range .Alerts` / `range .Labels.SortedPairs`, as in
# Alertmanager's default.tmpl) stays linear in the data; any other nested range (the same
# query result again, `$.Alerts`) multiplies the data by itself.
MAX_RANGE_DEPTH = 1  # ranges over whole collections, nested
MAX_RANGE_NESTING = 3  # ranges of any kind, nested


@dataclass
class _Scope:
    kind: str  # root, if, with, range
    dot: Size
    variables: dict[str, Size]
    ranges: int  # ranges enclosing this body
    big: int = 0  # of which over whole collections (not a part of the enclosing element)
    dot_part: bool = False  # dot is (a part of) the enclosing range's element
    parts: set[str] = field(default_factory=set)  # variables that are, too


class _Checker:
    def __init__(self, html: bool = False) -> None:
        self.html = html  # Alertmanager escapes what an HTML template's actions write
        self.scopes = [_Scope("root", DATA, {"$": DATA}, 0)]
        self.out = Size()

    # -------------------------------------------------------------- structure

    def run(self, text: str) -> Size:
        for item in parse_items(text):
            if isinstance(item, str):
                self.emit(Size(0, len(item.encode("utf-8", "surrogatepass"))), escaped=False)
            else:
                self.action(item)
        return self.out

    def action(self, act: Action) -> None:
        word = act.keyword or ""
        scope = self.scopes[-1]
        if word in ("end", "else") or word.startswith("else "):
            if len(self.scopes) > 1:
                closed = self.scopes.pop()
                if word != "end":  # the else branch: same dot and depth as the block's parent
                    parent = self.scopes[-1]
                    self.scopes.append(
                        _Scope(
                            closed.kind, parent.dot, {}, parent.ranges, parent.big, parent.dot_part
                        )
                    )
                    if word.startswith("else "):
                        self.block(word.removeprefix("else "), act.pipelines, else_of=closed)
            return
        if word in ("if", "with", "range"):
            self.block(word, act.pipelines)
            return
        if word == "template":  # a named template (Alertmanager's default.tmpl): ranges twice
            if act.pipelines:
                self.pipeline(act.pipelines[0])
            self.check_depth(scope.ranges + 2, scope.big + 1, "a {{ template }} call")
            self.emit(DATA)
            return
        if word in ("define", "block"):  # refused by fields.py; read on as a block
            self.scopes.append(_Scope(word, DATA, {}, scope.ranges, scope.big))
            return
        if word:  # break, continue
            return
        pipe = act.pipelines[0]
        value = self.pipeline(pipe)
        if not pipe.decl:
            self.emit(value)

    def block(self, word: str, pipes: list[Pipeline], else_of: _Scope | None = None) -> None:
        parent = self.scopes[-1]
        if else_of is not None:
            self.scopes.pop()
        part = self.is_part(pipes[0])
        value = self.pipeline(pipes[0])
        ranges, big = parent.ranges, parent.big
        if word == "range":
            ranges, big = ranges + 1, big + (not part)
            self.check_depth(ranges, big, "range")
        dot = value if word in ("with", "range") else parent.dot
        dot_part = word == "range" or (part if word == "with" else parent.dot_part)
        variables = dict.fromkeys(pipes[0].decl, value)
        parts = set(pipes[0].decl) if word == "range" or part else set()
        self.scopes.append(_Scope(word, dot, variables, ranges, big, dot_part, parts))

    def is_part(self, pipe: Pipeline) -> bool:
        """Whether the pipeline is a part of the enclosing range's element: `.`, `.Labels`,
        `$alert.Labels` for a variable bound to (a part of) the element."""
        if len(pipe.commands) != 1 or len(pipe.commands[0].args) != 1:
            return False
        term = pipe.commands[0].args[0].term
        if isinstance(term, Pipeline):
            return False
        if term.kind in ("dot", "field"):
            return self.scopes[-1].dot_part
        name = term.text.split(".", 1)[0]
        return term.kind == "variable" and any(name in s.parts for s in self.scopes)

    def check_depth(self, ranges: int, big: int, what: str) -> None:
        if big > MAX_RANGE_DEPTH:
            raise Refused(
                f"{what} inside a range over a whole collection: each multiplies the output by "
                "the number of elements",
                "range over a part of the element instead (range .Labels.SortedPairs), or "
                "range once",
            )
        if ranges > MAX_RANGE_NESTING:
            raise Refused(
                f"{what} nested in {MAX_RANGE_NESTING} ranges (at most {MAX_RANGE_NESTING})",
                f"nest at most {MAX_RANGE_NESTING} ranges",
            )

    def emit(self, value: Size, escaped: bool = True) -> None:
        self.out = self.out + (value.times(6) if self.html and escaped else value)
        self.check(self.out, "writes")

    def check(self, value: Size, verb: str, subject: str = "the template") -> Size:
        if value.c > MAX_OUTPUT:
            raise Refused(
                f"{subject} {verb} up to {count(value.c)} bytes of its own on every "
                f"evaluation (at most {count(MAX_OUTPUT)})",
                "remove large printf widths, chains that multiply a string (repeated "
                "reReplaceAll, printf, js, html) and long repeated text",
            )
        if value.k > MAX_COPIES:
            raise Refused(
                f"{subject} {verb} {count(value.k)} copies of the data it reads on every "
                f"evaluation (at most {count(MAX_COPIES)})",
                "print each label or value a few times, without doubling it through "
                "variables, printf or reReplaceAll",
            )
        return value

    # -------------------------------------------------------------- values

    def pipeline(self, pipe: Pipeline) -> Size:
        value: Size | None = None
        for cmd in pipe.commands:
            args = [self.operand(a) for a in cmd.args[1:]]
            if value is not None:
                args.append(value)
            value = self.check(self.command(cmd.args, args), "builds")
        assert value is not None  # the parser refuses an empty pipeline
        part = bool(pipe.decl) and self.is_part(pipe)
        for name in pipe.decl:
            self.bind(name, value, pipe.assign)
            if part and not pipe.assign:
                self.scopes[-1].parts.add(name)
        return value

    def bind(self, name: str, value: Size, assign: bool) -> None:
        scope = self.scopes[-1]
        if not assign:
            scope.variables[name] = value
            return
        for outer in reversed(self.scopes):
            if name in outer.variables:
                if outer.ranges < scope.ranges:
                    raise Refused(
                        f"{name} is reassigned inside a range it was declared outside of: "
                        "it could grow with every element",
                        f"declare it inside the range ({name} := ...)",
                    )
                outer.variables[name] = outer.variables[name].join(value)
                return
        scope.variables[name] = value  # undeclared: Go refuses it at parse time

    def operand(self, operand: Operand) -> Size:
        term = operand.term
        if isinstance(term, Pipeline):
            value = self.pipeline(term)
        elif term.kind == "ident":
            value = self.command([operand], [])
        else:
            value = self.term(term.kind, term.text)
        return value.join(DATA) if operand.fields else value

    def term(self, kind: str, text: str) -> Size:
        if kind in ("string", "raw"):
            return Size(0, len(text.encode("utf-8", "surrogatepass")))
        if kind == "dot":
            return self.scopes[-1].dot
        if kind == "field":
            return self.scopes[-1].dot.join(DATA)
        if kind == "variable":
            name = text.split(".", 1)[0]
            for scope in reversed(self.scopes):
                if name in scope.variables:
                    found = scope.variables[name]
                    return found.join(DATA) if "." in text else found
            return DATA  # $labels, $value, ... set by Prometheus from the alert
        return Size(0, len(text) + 32)  # number, char, bool, nil

    def command(self, operands: list[Operand], args: list[Size]) -> Size:
        head = operands[0].term
        if isinstance(head, Pipeline) or head.kind != "ident":
            return self.operand(operands[0]) if len(operands) == 1 and not args else DATA
        name = head.text
        if name == "query":
            ranges = self.scopes[-1].ranges
            if ranges:
                raise Refused(
                    "query runs inside a range, once per element on every evaluation",
                    "run one query that returns everything needed and range over its result",
                )
            return DATA
        return function_cost(name, operands[1:], args)


def template_cost(text: str, html: bool = False) -> Size:
    """The size bound of what `text` writes; Refused or TemplateSyntaxError when it has none.
    In an HTML template, Alertmanager escapes what actions write: up to 6 bytes per byte."""
    found = _cost(text, html)
    if isinstance(found, Size):
        return found
    if len(found) == 1:
        raise TemplateSyntaxError(found[0])
    raise Refused(*found)  # a new exception each time: a cached one would grow its traceback


# The common shape, `{{ $labels.x }}` or `{{ $value | humanize }}`, is bounded without
# parsing: it copies one value, at most 3 bytes per byte (toUpper) or 64 bytes (humanize).
_SIMPLE = re.compile(
    r"\{\{-?\s+(?:\$labels\.\w+|\.Labels\.\w+|\$value|\.Value|\$externalLabels\.\w+)"
    r"(?:\s*\|\s*(?:humanize\w*|toUpper|toLower|title))?\s+-?\}\}"
)


@lru_cache(maxsize=16384)  # rule sets repeat their templates: each is read once
def _cost(text: str, html: bool) -> Size | tuple[str, ...]:
    rest, simple = _SIMPLE.subn("", text)
    if "{{" not in rest:
        size = len(text.encode("utf-8", "replace"))
        fast = Size(simple * (18 if html else 3), size + 64 * simple)
        if fast.k <= MAX_COPIES and fast.c <= MAX_OUTPUT:  # else the checker says why
            return fast
    try:
        return _Checker(html).run(text)
    except Refused as exc:
        return (exc.message, exc.hint)
    except TemplateSyntaxError as exc:
        return (str(exc),)


def check_template_limits(templates: Sequence[tuple[str, str, bool]]) -> list[Problem]:
    """Problems with what the templates of one object, (field path, text, is HTML), can
    cost on every evaluation: each on its own, and all of them together."""
    problems: list[Problem] = []
    copies = own = 0  # plain ints: this runs for every object of a 10,000-rule set
    for path, text, html in templates:
        try:
            cost = template_cost(text, html)
            copies, own = copies + cost.k, own + cost.c
        except Refused as exc:
            problems.append(Problem(path, exc.message, exc.hint))
        except TemplateSyntaxError as exc:
            if "deeper than" in str(exc):  # Go would parse it: refuse what is not bounded
                message = f"the template cannot be checked: {exc}"
                problems.append(Problem(path, message, "nest fewer parentheses"))
            # else not Go syntax: promtool/amtool name the error, with its position
    if not problems and (own > MAX_OBJECT_OUTPUT or copies > MAX_OBJECT_COPIES):
        problems.append(
            Problem(
                "spec",
                f"the templates of this object together write up to {count(own)} bytes "
                f"of their own and {count(copies)} copies of the data they read on every "
                f"evaluation (at most {count(MAX_OBJECT_OUTPUT)} and "
                f"{count(MAX_OBJECT_COPIES)})",
                "shorten the templates, or split the object",
            )
        )
    return problems

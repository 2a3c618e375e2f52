"""Instantiating a catalogue template (pure): a CustomerAlert's `spec.template` → the
expression, `for`, labels and annotations it stands for, or the problems with its params.

A parameter can never inject PromQL: every value is checked against its declared type and
written back by alertplane in a canonical form, never pasted as given —

- `number`: a finite number, written as a PromQL number literal;
- `duration`: a Prometheus duration (`5m`), written as is once it matched the grammar;
- `string`: any text without control characters, written as one complete double-quoted
  PromQL string (the placeholder stands for the literal, quotes included) with `\\` and `"`
  escaped;
- `selector`: label matchers (`job="api", env=~"prod|stage"`) parsed here, each label
  name checked, each value re-quoted; `customer_id` and `__`-names are refused.

The expression is then given `customer_id="<id>"` on every selector and passes the same
isolation check as a hand-written one (importer/templated.py, admission).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..errors import Problem
from ..model.alert import CustomerAlertSpec
from ..model.common import is_duration, is_label_name, shown
from ..render.catalogue import PLACEHOLDER, AlertTemplate, TemplateParam, order_key
from ..render.platform import PlatformConfig
from .promql import TENANT_LABEL

PATH = "spec.template"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MATCHER = re.compile(r'\s*([^\s=!~,"]+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class Instance:
    """What a template instantiates to, for one customer, before the tenant matcher."""

    expr: str
    for_: str | None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def instantiate(
    spec: CustomerAlertSpec, platform: PlatformConfig | None
) -> tuple[Instance | None, list[Problem]]:
    """The template's instance for `spec`'s params, or the problems with them (all of
    them, so one answer names every parameter to fix)."""
    ref = spec.template
    if ref is None:
        return None, []
    template = platform.template(ref.name) if platform is not None else None
    if platform is None or template is None:
        return None, [_unknown(ref.name, platform)]
    problems: list[Problem] = []
    for key in sorted(set(ref.params) - {p.name for p in template.params}):
        problems.append(
            Problem(
                f"{PATH}.params.{key}",
                f"template {template.name!r} has no parameter {key!r}",
                f"its parameters: {', '.join(p.name for p in template.params) or 'none'}",
            )
        )
    values: dict[str, tuple[str, str]] = {}  # name → (in PromQL, in text)
    for param in template.params:
        found = _value(template, param, ref.params.get(param.name))
        if isinstance(found, Problem):
            problems.append(found)
        else:
            values[param.name] = found
    if problems:
        return None, problems
    return _substituted(template, values), []


def _unknown(name: str, platform: PlatformConfig | None) -> Problem:
    known = [t.name for t in platform.alert_templates] if platform is not None else []
    return Problem(
        f"{PATH}.name",
        f"the platform has no alert template {name!r}",
        f"use one of: {', '.join(known)}"
        if known
        else "the platform's catalogue is empty (platform config alertTemplates; "
        "`alertplane validate --platform-config`)",
    )


def _substituted(template: AlertTemplate, values: dict[str, tuple[str, str]]) -> Instance:
    def promql(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values[m.group(1)][0], text)

    def plain(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values[m.group(1)][1], text)

    return Instance(
        expr=promql(template.expr),
        for_=plain(template.for_) if template.for_ is not None else None,
        labels={k: plain(v) for k, v in template.labels.items()},
        annotations={k: plain(v) for k, v in template.annotations.items()},
    )


def _value(
    template: AlertTemplate, param: TemplateParam, given: str | None
) -> tuple[str, str] | Problem:
    path = f"{PATH}.params.{param.name}"
    value = _text(param.default) if given is None and param.default is not None else given
    if value is None:
        hint = param.description or f"a {param.type}"
        return Problem(path, f"template {template.name!r} requires parameter {param.name!r}", hint)
    wrong = _type_problem(param, value)
    if wrong is not None:
        return Problem(path, wrong, _type_hint(param))
    if param.enum is not None and not _in_enum(param, value):
        allowed = ", ".join(_text(v) for v in param.enum)
        return Problem(path, f"{shown(value)} is not allowed", f"use one of: {allowed}")
    out_of_range = _range_problem(template, param, value)
    if out_of_range is not None:
        return Problem(path, *out_of_range)
    return _written(param, value)


def _type_problem(param: TemplateParam, value: str) -> str | None:
    if param.type == "number" and not _NUMBER.fullmatch(value.strip()):
        return f"{shown(value)} is not a number"
    if param.type == "number" and not math.isfinite(float(value)):
        return f"{shown(value)} is not a finite number"
    if param.type == "duration" and not is_duration(value):
        return f"{shown(value)} is not a duration"
    if _CONTROL.search(value):
        return f"{shown(value)} holds a control character"
    return None


def _order(param: TemplateParam, value: float | str) -> float | None:
    if param.type == "number" and isinstance(value, str):
        return float(value)
    return order_key(param, value)


def _in_enum(param: TemplateParam, value: str) -> bool:
    if param.type == "number":
        return any(float(value) == _order(param, v) for v in param.enum or [])
    return value in (param.enum or [])


def _range_problem(
    template: AlertTemplate, param: TemplateParam, value: str
) -> tuple[str, str] | None:
    if param.min is None and param.max is None:
        return None
    key = _order(param, value)
    low = _order(param, param.min) if param.min is not None else None
    high = _order(param, param.max) if param.max is not None else None
    hint = f"template {template.name!r} allows {param.name} {_allowed(param)}"
    if key is not None and low is not None and key < low:
        return f"{value} is below the minimum {_text(param.min)}", hint
    if key is not None and high is not None and key > high:
        return f"{value} is above the maximum {_text(param.max)}", hint
    return None


def _allowed(param: TemplateParam) -> str:
    if param.min is not None and param.max is not None:
        return f"from {_text(param.min)} to {_text(param.max)}"
    if param.min is not None:
        return f"from {_text(param.min)} up"
    return f"up to {_text(param.max)}"


def _written(param: TemplateParam, value: str) -> tuple[str, str] | Problem:
    if param.type == "number":
        number = float(value)
        text = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
        return text, text
    if param.type == "duration":
        return value, value
    if param.type == "string":
        return quote(value), value
    matchers = parse_selector(value)
    if isinstance(matchers, str):
        return Problem(f"{PATH}.params.{param.name}", matchers, _type_hint(param))
    text = ", ".join(f"{name}{op}{quote(v)}" for name, op, v in matchers)
    return text, text


def quote(value: str) -> str:
    """`value` as one double-quoted PromQL string: only `\\` and `"` need escaping (both
    Prometheus' Go parser and promql-parser read those two the same way)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_selector(text: str) -> list[tuple[str, str, str]] | str:
    """`name op "value", ...` → matchers (values unescaped), or the message why not."""
    out: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(text) and text[pos:].strip():
        found = _MATCHER.match(text, pos)
        if found is None:
            return f'{shown(text[pos:])} is not a label matcher (name="value")'
        name, op, raw, comma = found.groups()
        if not is_label_name(name):
            return f"{shown(name)} is not a label name"
        if name == TENANT_LABEL or name.startswith("__"):
            return f"label {name!r} is not allowed here: alertplane sets customer_id itself"
        bad = next((e for e in _ESCAPE.findall(raw) if e not in ('"', "\\")), None)
        if bad is not None:
            return f"\\{bad} is not allowed in a matcher value (write \\\\ for a backslash)"
        out.append((name, op, _ESCAPE.sub(r"\1", raw)))
        pos = found.end()
        if not comma and pos < len(text):
            return f"{shown(text[pos:])} follows a matcher without a comma"
    return out


def _type_hint(param: TemplateParam) -> str:
    hints = {
        "number": "write a number, e.g. 0.05",
        "duration": "write a Prometheus duration such as 30s, 5m or 1h",
        "string": "write text",
        "selector": 'write label matchers such as job="api", env=~"prod|stage"',
    }
    return hints[param.type]


def _text(value: float | str | None) -> str:
    """A catalogue value as a customer writes it (0.5, 5m; 14 rather than 14.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)

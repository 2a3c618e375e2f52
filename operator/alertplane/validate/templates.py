"""Template checks with the real engines, batched so a large run costs two tool calls.

Rule annotations and labels are Prometheus templates: `promtool check rules` parses them.
Receiver templates are Alertmanager templates: `amtool template render` parses *and*
executes them against amtool's sample alert, which also catches unknown fields.
A failing batch is re-checked item by item to pin every problem on its object.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import Problem
from ..model import CustomerReceiver, CustomerSLO
from ..render.rules import RuleSpec, rule_spec
from . import tools
from .blame import clean, rule_problems
from .fields import receiver_templates
from .gotemplate import TemplateSyntaxError, parse_items
from .promql import has_detail
from .schema import Parsed
from .slo import promtool_problems


def check_rule_templates(
    alerts: Sequence[Parsed], suspects: Sequence[Parsed] = ()
) -> list[Problem]:
    """promtool check rules over each customer's rules, exactly as they will be rendered.

    Disabled alerts are checked too (as if enabled): they must stay valid so enabling
    one later cannot fail. Every refusal is pinned on its alert (validate/blame.py), so
    one malformed alert never holds back the customer's others. `suspects`, alerts other
    checks refuse, are checked alone in the same run: promtool's message about the
    expression is added where promql-parser had no words of its own (has_detail).
    """
    customers: dict[str, list[tuple[int, RuleSpec]]] = {}
    alone: dict[str, list[tuple[int, RuleSpec]]] = {}
    owners: dict[int, Parsed] = {}
    for i, item in enumerate([*alerts, *suspects]):
        ruled = rule_spec(item.obj.spec)
        # An alert without expr is a template not instantiated (an SLO has no expr field).
        if ruled is not None and getattr(ruled, "expr", "") is not None:
            spec = ruled.model_copy(update={"enabled": True})
            into = customers if i < len(alerts) else alone
            into.setdefault(spec.customer_id, []).append((i, spec))
            owners[i] = item
    problems: list[Problem] = []
    for i, found in sorted(rule_problems(customers, suspects=alone).items()):
        obj = owners[i].obj
        expr = getattr(obj.spec, "expr", None)
        if i >= len(alerts) and isinstance(expr, str) and has_detail(expr):
            found = [p for p in found if p.path != "spec.expr"]
        if isinstance(obj, CustomerSLO):  # on the SLO's fields (validate/slo.py)
            found = promtool_problems(obj.spec, found)
        problems.extend(p.at(owners[i].ref, owners[i].source) for p in found)
    return problems


_Job = tuple[Parsed, str, str]  # the object, the field's path, the template
BATCH_BYTES = 256 * 1024


def check_receiver_templates(receivers: Sequence[Parsed]) -> list[Problem]:
    jobs: list[_Job] = []
    for item in receivers:
        if isinstance(item.obj, CustomerReceiver):
            jobs.extend((item, path, text) for path, text in receiver_templates(item.obj))
    if not jobs:
        return []
    alone = [j for j in jobs if not _self_contained(j[2])]
    batched = {id(j) for j in jobs} - {id(j) for j in alone}
    groups = [
        (group, is_html)
        for is_html in (False, True)
        for group in _groups([j for j in jobs if _is_html(j) == is_html and id(j) in batched])
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(len(groups), os.cpu_count() or 1))) as pool:
        failed = alone + [j for found in pool.map(lambda g: _suspects(*g), groups) for j in found]
    if not failed:
        return []
    in_failed = {id(j) for j in failed}
    failed = [j for j in jobs if id(j) in in_failed]  # report in field order, html or not
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda j: tools.render_template(j[2], html=_is_html(j)), failed))
    problems = []
    for (item, path, _), result in zip(failed, results, strict=True):
        if not result.ok:
            problems.append(
                Problem(
                    path,
                    f"invalid template: {clean(result.output)}",
                    "fix the Alertmanager template (e.g. {{ .CommonLabels.alertname }})",
                ).at(item.ref, item.source)
            )
    return problems


def _is_html(job: _Job) -> bool:
    return job[1].endswith("htmlTemplate")


def _self_contained(text: str) -> bool:
    """Whether `text` stays inside the named template it is wrapped in for a batch: every
    `if`/`range`/`with` ended, no `end` more. An extra `{{ end }}` would end the wrapper
    early and leave the rest outside it, never executed, so the batch would accept a text
    amtool refuses alone; such a text (and any Go would not parse) is checked alone."""
    try:
        items = parse_items(text)
    except TemplateSyntaxError:
        return False
    depth = 0
    for item in items:
        if isinstance(item, str) or item.keyword is None:
            continue
        if item.keyword in ("define", "block"):
            return False
        depth += item.keyword in ("if", "range", "with")
        depth -= item.keyword == "end"
        if depth < 0:
            return False
    return depth == 0


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """Batches of at most BATCH_BYTES of template text: amtool's time and memory per call
    stay bounded, a refused batch re-checks only its own templates one by one, and large
    runs use every core."""
    return tools.batches(jobs, lambda j: len(j[2].encode("utf-8", "replace")) + 64, BATCH_BYTES)


def _suspects(group: list[_Job], html: bool) -> list[_Job]:
    """The templates of `group` that may be refused: none when the batch passes, else
    those of the halves that fail, down to a few, each then checked alone for its message.
    One bad template among thousands costs a few dozen calls, not thousands."""
    if _render_batch([t for _, _, t in group], html):
        return []
    if len(group) <= _FEW:
        return group
    half = len(group) // 2
    return _suspects(group[:half], html) + _suspects(group[half:], html)


_FEW = 8


def _render_batch(texts: Sequence[str], html: bool) -> bool:
    """True when every template parses and executes; one amtool call for all of them.

    Everything is in the file (each text a named template, and one template calling them
    all), so the command line is the same few bytes however many texts there are."""
    if not all(tools.encodable(t) for t in texts):
        return False  # checked one by one, where each such text is refused
    with tempfile.TemporaryDirectory(prefix="alertplane-tmpl-") as tmp:
        path = Path(tmp) / "batch.tmpl"
        calls = "".join(f'{{{{ template "alertplane.check.{i}" . }}}}' for i in range(len(texts)))
        path.write_text(
            "".join(
                f'{{{{ define "alertplane.check.{i}" }}}}{t}{{{{ end }}}}\n'
                for i, t in enumerate(texts)
            )
            + f'{{{{ define "alertplane.all" }}}}{calls}{{{{ end }}}}\n',
            encoding="utf-8",
        )
        args = ["template", "render", f"--template.glob={path}"]
        args.append('--template.text={{ template "alertplane.all" . }}')
        if html:
            args.append("--template.type=html")
        return tools.run("amtool", args, stdout=False).ok

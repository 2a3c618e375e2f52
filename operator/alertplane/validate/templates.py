"""Template checks with the real engines, batched so a large run costs two tool calls.

Rule annotations and labels are Prometheus templates: `promtool check rules` parses them.
Receiver templates are Alertmanager templates: `amtool template render` parses *and*
executes them against amtool's sample alert, which also catches unknown fields.
A failing batch is re-checked item by item to pin every problem on its object.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import Problem
from ..model import CustomerAlert, CustomerAlertSpec, CustomerReceiver
from . import tools
from .blame import clean, rule_problems
from .fields import receiver_templates
from .promql import has_detail
from .schema import Parsed


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
    customers: dict[str, list[tuple[int, CustomerAlertSpec]]] = {}
    alone: dict[str, list[tuple[int, CustomerAlertSpec]]] = {}
    owners: dict[int, Parsed] = {}
    for i, item in enumerate([*alerts, *suspects]):
        if isinstance(item.obj, CustomerAlert):
            spec = item.obj.spec.model_copy(update={"enabled": True})
            into = customers if i < len(alerts) else alone
            into.setdefault(spec.customer_id, []).append((i, spec))
            owners[i] = item
    problems: list[Problem] = []
    for i, found in sorted(rule_problems(customers, suspects=alone).items()):
        obj = owners[i].obj
        if i >= len(alerts) and isinstance(obj, CustomerAlert) and has_detail(obj.spec.expr):
            found = [p for p in found if p.path != "spec.expr"]
        problems.extend(p.at(owners[i].ref, owners[i].source) for p in found)
    return problems


def check_receiver_templates(receivers: Sequence[Parsed]) -> list[Problem]:
    jobs: list[tuple[Parsed, str, str]] = []
    for item in receivers:
        if isinstance(item.obj, CustomerReceiver):
            jobs.extend((item, path, text) for path, text in receiver_templates(item.obj))
    if not jobs:
        return []
    html = [j for j in jobs if j[1].endswith("htmlTemplate")]
    text = [j for j in jobs if not j[1].endswith("htmlTemplate")]
    failed = [
        j
        for batch, is_html in ((text, False), (html, True))
        if batch and not _render_batch([t for _, _, t in batch], is_html)
        for j in batch
    ]
    if not failed:
        return []
    in_failed = {id(j) for j in failed}
    failed = [j for j in jobs if id(j) in in_failed]  # report in field order, html or not
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda j: tools.render_template(j[2], html=j[1].endswith("htmlTemplate")), failed
            )
        )
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


def _render_batch(texts: Sequence[str], html: bool) -> bool:
    """True when every template parses and executes; one amtool call for all of them."""
    if not all(_encodable(t) for t in texts):
        return False  # checked one by one, where each such text is refused
    with tempfile.TemporaryDirectory(prefix="alertplane-tmpl-") as tmp:
        path = Path(tmp) / "batch.tmpl"
        path.write_text(
            "".join(
                f'{{{{ define "alertplane.check.{i}" }}}}{t}{{{{ end }}}}\n'
                for i, t in enumerate(texts)
            ),
            encoding="utf-8",
        )
        calls = "".join(f'{{{{ template "alertplane.check.{i}" . }}}}' for i in range(len(texts)))
        return tools.render_template(calls, glob=str(path), html=html).ok


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

"""Template checks with the real engines, batched so a large run costs two tool calls.

Rule annotations and labels are Prometheus templates: `promtool check rules` parses them.
Receiver templates are Alertmanager templates: `amtool template render` parses *and*
executes them against amtool's sample alert, which also catches unknown fields.
A failing batch is re-checked item by item to pin every problem on its object.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import Problem, ToolError
from ..model import CustomerAlert, CustomerAlertSpec, CustomerReceiver
from ..render.rules import render_rules
from . import tools
from .fields import receiver_templates
from .rulecheck import check_rule_texts
from .schema import Parsed

_PROMTOOL_LINE = re.compile(r'^(?:\d+:\d+: )?group "[^"]*", rule \d+, "([^"]*)": (.*)$')
_PARTS = (
    (re.compile(r'^annotation "([^"]+)": (.*)$'), "spec.annotations.{}"),
    (re.compile(r'^label "([^"]+)": (.*)$'), "spec.labels.{}"),
)


def check_rule_templates(alerts: Sequence[Parsed]) -> list[Problem]:
    """promtool check rules over each customer's rules, exactly as they will be rendered.

    Disabled alerts are checked too (as if enabled): they must stay valid so enabling
    one later cannot fail. Alert names are unique per customer by now, so promtool's
    (file, alert name) pins each problem on its object.
    """
    by_key: dict[tuple[str, str], Parsed] = {}
    specs: dict[str, list[CustomerAlertSpec]] = {}
    for item in alerts:
        if isinstance(item.obj, CustomerAlert):
            spec = item.obj.spec
            by_key[(spec.customer_id, spec.alert_name)] = item
            specs.setdefault(spec.customer_id, []).append(spec.model_copy(update={"enabled": True}))
    files = {}
    for cid, customer_specs in specs.items():
        text = render_rules(cid, customer_specs)
        if text is not None:
            files[f"{cid}.yml"] = text
    problems: list[Problem] = []
    for name, errors in check_rule_texts(files).items():
        cid = name.removesuffix(".yml")
        for line in errors:
            found = _PROMTOOL_LINE.match(line)
            owner = by_key.get((cid, found.group(1))) if found else None
            if found is None or owner is None:
                raise ToolError(f"promtool rejected generated rules of {cid}: {line}")
            problems.append(_rule_problem(found.group(2)).at(owner.ref, owner.source))
    return problems


def _rule_problem(text: str) -> Problem:
    for pattern, path in _PARTS:
        found = pattern.match(text)
        if found is not None:
            key = "runbookUrl" if found.group(1) == "runbook_url" else found.group(1)
            return Problem(
                path.format(key),
                f"invalid template: {_clean(found.group(2))}",
                "fix the Go template syntax ({{ $labels.name }}, {{ $value }})",
            )
    if text.startswith("could not parse expression:"):
        detail = text.removeprefix("could not parse expression:").strip()
        return Problem(
            "spec.expr",
            f"Prometheus rejects the expression: {detail}",
            "fix the expression; it must be valid Prometheus 2.42 PromQL",
        )
    return Problem(
        "spec",
        f"Prometheus rejects the rule: {text}",
        "fix the alert so Prometheus 2.42 accepts it",
    )


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
                    f"invalid template: {_clean(result.output)}",
                    "fix the Alertmanager template (e.g. {{ .CommonLabels.alertname }})",
                ).at(item.ref, item.source)
            )
    return problems


def _render_batch(texts: Sequence[str], html: bool) -> bool:
    """True when every template parses and executes; one amtool call for all of them."""
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


def _clean(output: str) -> str:
    text = " ".join(output.split())
    text = text.removeprefix("amtool: error:").strip()
    text = re.sub(r"template: [^:]*:(\d+(:\d+)?):", r"at \1:", text)
    return text

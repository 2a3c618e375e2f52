"""The preview's annotations, expanded per series by Prometheus' own template engine.

`promtool test rules` runs the alert's rule (its labels and annotations exactly as
rendered, render/rules.rule_of) over the previewed series as constant input, with an
expectation of no alert: the test fails and promtool prints each alert it got, with its
labels and expanded annotations. Prometheus' engine, not a re-implementation, so `humanize`,
`$value`, `$labels` and the rest behave as they will once the rule is live. One run for at
most MAX_EXPANDED series; the expression is replaced by the input metric, so nothing else
of the customer's rule (or any other series) is involved.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ToolError
from ..model import CustomerAlert
from ..render.rules import rule_of
from ..render.yamlout import dump
from ..validate import tools

MAX_EXPANDED = 20
METRIC = "alertplane_preview_value"
_PAIR = re.compile(r'([^\s=,{}]+)="((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_VALUES = {"+Inf": "+Inf", "-Inf": "-Inf", "NaN": "NaN"}


def _unquote(text: str) -> str:
    """A Go-quoted string's content (strconv.Quote, as promtool prints label values)."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE.get(code, code)

    return _ESCAPE.sub(one, text)


def _pairs(text: str) -> dict[str, str]:
    return {k: _unquote(v) for k, v in _PAIR.findall(text)}


def _selector(labels: dict[str, str]) -> str:
    # json.dumps quotes as PromQL reads double-quoted strings (\", \\, \n, \uXXXX).
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{METRIC}{{{inner}}}"


def _value(text: str) -> str | None:
    if text in _VALUES:
        return _VALUES[text]
    try:
        float(text)
    except ValueError:
        return None
    return text


def expand(alert: CustomerAlert, samples: list[tuple[dict[str, str], str]]) -> list[dict[str, Any]]:
    """The alerts the samples (series labels without __name__, value) give: each one's
    labels and expanded annotations ({"labels", "annotations"}); [] when the alert has no
    annotations. ToolError when promtool cannot be run or prints no alert."""
    rule = rule_of(alert.spec)
    if not rule.get("annotations"):
        return []
    rule = {**rule, "expr": METRIC}
    rule.pop("for", None)
    rule.pop("keep_firing_for", None)
    inputs = []
    for labels, value in samples[:MAX_EXPANDED]:
        shown = _value(value)
        if shown is not None:
            inputs.append({"series": _selector(labels), "values": shown})
    if not inputs:
        return []
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": [
            {"eval_time": "0m", "alertname": alert.spec.alert_name, "exp_alerts": []}]}],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="alertplane-preview-") as tmp:
        Path(tmp, "rules.yml").write_text(
            dump({"groups": [{"name": "preview", "rules": [rule]}]}), encoding="utf-8"
        )
        Path(tmp, "test.yml").write_text(dump(test), encoding="utf-8")
        result = tools.run("promtool", ["test", "rules", "test.yml"], cwd=tmp)
    return _got(result.output)


def _got(output: str) -> list[dict[str, Any]]:
    """The alerts promtool printed under `got:` (labels, annotations)."""
    out: list[dict[str, Any]] = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Labels:{"):
            out.append({"labels": _pairs(line[len("Labels:") :]), "annotations": {}})
        elif line.startswith("Annotations:{") and out:
            out[-1]["annotations"] = _pairs(line[len("Annotations:") :])
    if not out:
        raise ToolError(f"promtool did not expand the annotations: {output[-500:]}")
    return out

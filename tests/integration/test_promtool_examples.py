"""The rendered example rules fire exactly as contracted (`promtool test rules`).

examples/ is rendered into a temporary directory through the same path as `alertplane
render` (load, validate with the real tools, render, gated write), then
tests/promtool/examples_test.yml is copied next to the rendered rules/ and run. Its
expected alerts list every label and annotation, so the mutation tests below prove that a
renderer change to labels, annotations, `for`, `keep_firing_for`, the tenant matcher or
disabled alerts makes it fail.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.core import evaluate, render_valid
from alertplane.manifests import load_paths
from alertplane.render.platform import load_platform_config
from alertplane.render.yamlout import dump
from alertplane.sinks.files import write_rendered
from tests.support.paths import EXAMPLES, ROOT

SPEC = ROOT / "tests" / "promtool" / "examples_test.yml"

Rule = dict[str, Any]


def _render_examples(out: Path, enable_all: bool = False) -> dict[str, str]:
    loaded = load_paths([str(EXAMPLES / "customers")])
    assert not loaded.problems
    if enable_all:
        for doc in loaded.documents:
            doc.data["spec"].pop("enabled", None)
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    outcome = evaluate(loaded.documents, platform)
    assert outcome.ok, [p.text() for p in outcome.problems]
    rendered = render_valid(outcome, platform)
    write_rendered(out, rendered)
    shutil.copy(SPEC, out / SPEC.name)
    return rendered.rules


def _promtool_test(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "test", "rules", SPEC.name],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def test_examples_fire_as_contracted(tmp_path: Path) -> None:
    rules = _render_examples(tmp_path)
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # Every rendered rule file is under test; a new example customer must be added here.
    assert sorted(spec["rule_files"]) == sorted(rules)
    tested = {t["alertname"] for t in spec["tests"][0]["alert_rule_test"]}
    rendered = {
        r["alert"]
        for text in rules.values()
        for g in yaml.safe_load(text)["groups"]
        for r in g["rules"]
    }
    assert rendered <= tested, f"alerts without a promtool expectation: {rendered - tested}"
    proc = _promtool_test(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def _add_label(rule: Rule) -> None:
    rule["labels"]["rendered_by"] = "alertplane"


def _drop_customer_label(rule: Rule) -> None:
    del rule["labels"]["customer_id"]


def _drop_urgency(rule: Rule) -> None:
    rule["labels"].pop("urgency", None)


def _camel_runbook(rule: Rule) -> None:
    annotations = rule.get("annotations", {})
    if "runbook_url" in annotations:
        annotations["runbookUrl"] = annotations.pop("runbook_url")


def _add_annotation(rule: Rule) -> None:
    rule.setdefault("annotations", {})["source"] = "alertplane"


def _drop_for(rule: Rule) -> None:
    rule.pop("for", None)


def _drop_keep_firing_for(rule: Rule) -> None:
    rule.pop("keep_firing_for", None)


def _drop_tenant_matcher(rule: Rule) -> None:
    for cid in ("acme", "globex", "initech"):
        rule["expr"] = rule["expr"].replace(f'{{customer_id="{cid}", ', "{")
        rule["expr"] = rule["expr"].replace(f'{{customer_id="{cid}"}}', "")


MUTATIONS: dict[str, Callable[[Rule], None]] = {
    "extra label": _add_label,
    "customer_id label dropped": _drop_customer_label,
    "urgency label dropped": _drop_urgency,
    "runbookUrl not renamed": _camel_runbook,
    "extra annotation": _add_annotation,
    "for dropped": _drop_for,
    "keep_firing_for dropped": _drop_keep_firing_for,
    "tenant matcher dropped": _drop_tenant_matcher,
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=list(MUTATIONS))
def test_spec_catches_a_changed_rendering(tmp_path: Path, mutate: Callable[[Rule], None]) -> None:
    rules = _render_examples(tmp_path)
    changed = False
    for rel, text in rules.items():
        data = yaml.safe_load(text)
        for group in data["groups"]:
            for rule in group["rules"]:
                mutate(rule)
        mutated = dump(data)
        changed |= yaml.safe_load(mutated) != yaml.safe_load(text)
        (tmp_path / rel).write_text(mutated, encoding="utf-8")
    assert changed, "the mutation changed nothing; the test would prove nothing"
    proc = _promtool_test(tmp_path)
    assert proc.returncode != 0, "promtool test rules passed on mutated rules"
    # It failed evaluating the rules (an expectation, or a rule error such as another
    # customer's series colliding), not because the mutated rules did not load.
    output = proc.stdout + proc.stderr
    assert "got:" in output or "err:" in output, output


def test_spec_catches_a_rendered_disabled_alert(tmp_path: Path) -> None:
    rules = _render_examples(tmp_path, enable_all=True)
    assert "MaintenanceWindowTooLong" in rules["rules/globex.yml"]
    proc = _promtool_test(tmp_path)
    assert proc.returncode != 0, proc.stdout
    output = proc.stdout + proc.stderr
    assert "alertname: MaintenanceWindowTooLong" in output, output

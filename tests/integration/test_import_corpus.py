"""A real-world corpus through `alertplane import` → `validate` → `render` → promtool, in
real processes: every rule that can be isolated is converted and accepted (false
rejections: 0), and upstream's own promtool tests of the Thanos alerts, given a second
customer's copy of every series, show the converted alerts firing on the customer's own
series only. The same tests on the upstream (unisolated) rules fail: they would catch a leak.
Corpus and licences: tests/support/import_corpus.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.import_corpus import (
    PROMOP_ALERTS,
    PROMOP_EXAMPLE,
    PROMTOOL_RULES,
    THANOS_ALERTS,
    THANOS_RULES,
    THANOS_TESTS,
    path,
)
from tests.support.paths import EXAMPLES, ROOT
from tests.support.promql_cases import NO_SERIES

# The promtool testdata's two recording rules whose names have no colon (alertplane keeps
# recorded series apart from scraped metrics by the colon: model/recording.py).
NO_COLON = "has no ':': a recorded series must not take the name of a scraped metric"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ALERTPLANE_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=900,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def imported(tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path / "imported"
    inputs = (THANOS_ALERTS, THANOS_RULES, PROMOP_ALERTS, PROMOP_EXAMPLE, PROMTOOL_RULES)
    files = [str(path(f)) for f in inputs]
    proc = run(
        "import",
        *(a for f in files for a in ("-f", f)),
        "--customer",
        "acme",
        "--category",
        "infrastructure",
        "--out",
        str(out),
    )
    return out, proc


def test_the_corpus_converts_validates_and_renders(tmp_path: Path) -> None:
    out, proc = imported(tmp_path)
    refused = [line for line in proc.stderr.splitlines() if line.startswith("refused: ")]
    # Refused: the selector-free heartbeats and the promtool testdata's colon-less records.
    assert proc.returncode == 1, proc.stderr
    assert all(NO_COLON in line or NO_SERIES in line for line in refused), refused
    assert sum(NO_SERIES in line for line in refused) == 2  # vector(1) and `1`
    assert [line.rsplit(" (", 1)[-1].split(")")[0] for line in refused if NO_COLON in line] == [
        "fixed_data",
        "suquery_interval_test",
    ]
    # 58 alerts, the Thanos mixin's 16 recording rules and promtool testdata's one with a colon
    assert f"75 imported, {len(refused)} refused" in proc.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert "acme/thanos-compact.yaml" in files and "acme/prometheus-operator.yaml" in files

    valid = run("validate", "-f", str(out))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "75 valid, 0 invalid, 0 problem(s)" in valid.stderr
    rendered = tmp_path / "rendered"
    ren = run(
        "render",
        "-f",
        str(out),
        "--platform-config",
        str(EXAMPLES / "platform.yaml"),
        "--out",
        str(rendered),
    )
    assert ren.returncode == 0, ren.stderr
    check = subprocess.run(
        ["promtool", "check", "rules", str(rendered / "rules/acme.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and "SUCCESS: 75 rules found" in check.stdout, check


def with_customers(
    tests: dict[str, Any], rule_file: Path, alertplane_labels: bool
) -> dict[str, Any]:
    """Upstream's tests, each series also present as customer globex's (with a label of its
    own, so a leaked alert differs), the expected alerts acme's only."""
    out = {**tests, "rule_files": [str(rule_file)]}
    out["tests"] = []
    for case in tests["tests"]:
        series = []
        for s in case["input_series"]:
            series.append({**s, "series": _label(s["series"], 'customer_id="acme"')})
            series.append(
                {**s, "series": _label(s["series"], 'customer_id="globex", copy="globex"')}
            )
        rule_tests = []
        for t in case["alert_rule_test"]:
            alerts = [
                {
                    **a,
                    "exp_labels": {
                        **a["exp_labels"],
                        **(
                            {"customer_id": "acme", "category": "infrastructure"}
                            if alertplane_labels
                            else {"customer_id": "acme"}
                        ),
                    },
                }
                for a in t.get("exp_alerts") or []
            ]
            rule_tests.append({**t, "exp_alerts": alerts})
        out["tests"].append({**case, "input_series": series, "alert_rule_test": rule_tests})
    return out


def _label(series: str, labels: str) -> str:
    if "{" in series:
        return series.replace("{", "{" + labels + ", ", 1)
    return series + "{" + labels + "}"


def promtool_test(tmp_path: Path, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test.yml"
    test.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        ["promtool", "test", "rules", test.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_converted_alerts_fire_on_the_customers_own_series_only(tmp_path: Path) -> None:
    out, _ = imported(tmp_path)
    rendered = tmp_path / "rendered"
    ren = run(
        "render",
        "-f",
        str(out),
        "--platform-config",
        str(EXAMPLES / "platform.yaml"),
        "--out",
        str(rendered),
    )
    assert ren.returncode == 0, ren.stderr
    upstream = yaml.safe_load(path(THANOS_TESTS).read_text(encoding="utf-8"))
    assert sum(len(c["alert_rule_test"]) for c in upstream["tests"]) >= 10
    spec = with_customers(upstream, rendered / "rules/acme.yml", alertplane_labels=True)
    proc = promtool_test(tmp_path, spec)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_the_same_tests_catch_the_upstream_rules_leaking(tmp_path: Path) -> None:
    """Control: the unisolated upstream rules see globex's series too, and the test fails."""
    spec = with_customers(
        yaml.safe_load(path(THANOS_TESTS).read_text(encoding="utf-8")),
        path(THANOS_ALERTS),
        alertplane_labels=False,
    )
    proc = promtool_test(tmp_path, spec)
    assert proc.returncode == 1, proc.stdout
    output = proc.stdout + proc.stderr  # promtool writes the failures to either
    assert 'copy="globex", customer_id="globex"' in output, output  # the leak

"""Golden files: the rendered output, byte for byte, reviewed like code.

Each case renders a set of manifests (validated first, exactly as `alertplane render`
does) and compares every file with `tests/golden/<case>/`. `make golden-update` (pytest
--update-golden) rewrites them; review the diff.

The tool checks below read `tests/golden/` from disk, independently of the renderer, so a
golden file Prometheus or Alertmanager would reject can never pass. amtool 0.25's
check-config does not open the `*_file` paths (Alertmanager reads them when it sends a
notification), so the secret paths in the goldens need not exist on this machine;
test_amtool_does_not_read_secret_files keeps that assumption honest.
"""

from __future__ import annotations

import difflib
import random
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.core import evaluate, render_valid
from alertplane.errors import Source
from alertplane.manifests import Document, load_paths
from alertplane.model import Resource
from alertplane.render import render
from alertplane.render.platform import PlatformConfig, load_platform_config
from tests.support.factories import DROP, alert, receiver
from tests.support.paths import EXAMPLES, ROOT
from tests.support.slo import slo

GOLDEN = ROOT / "tests" / "golden"
SMTP = {"smtp_smarthost": "mail.example:25", "smtp_from": "alerts@platform.example"}


@dataclass(frozen=True)
class Case:
    name: str
    documents: Callable[[], list[Document]]
    platform: Callable[[], PlatformConfig]


def _docs(*manifests: dict[str, Any]) -> Callable[[], list[Document]]:
    return lambda: [Document(Source("<case>", i), m) for i, m in enumerate(manifests, 1)]


def _platform(data: dict[str, Any] | None = None) -> Callable[[], PlatformConfig]:
    return lambda: PlatformConfig.model_validate(data or {})


def _examples() -> list[Document]:
    loaded = load_paths([str(EXAMPLES / "customers")])
    assert not loaded.problems
    return loaded.documents


def _hook(customer: str, name: str) -> list[dict[str, Any]]:
    return [{"url": f"http://hooks.example/{customer}/{name}"}]


CASES = [
    Case(
        "examples",
        _examples,
        lambda: load_platform_config(str(EXAMPLES / "platform.yaml")),
    ),
    # Without --platform-config: no global section, no route defaults, and a
    # platform-default receiver with no integrations; secrets under the default dir.
    Case(
        "no-platform-config",
        _docs(
            alert("acme", "HighErrorRate"),
            receiver("acme", "oncall"),
            receiver(
                "acme",
                "chat",
                webhook=[],
                slack=[{"apiURLSecretRef": {"name": "acme-slack", "key": "url"}}],
                route={"priority": 5, "match": {"severity": ["critical"]}},
            ),
        ),
        _platform(),
    ),
    # Disabled alerts are validated but never rendered: `dormant` gets no rule file (its
    # receivers still get their routes), `awake` only its enabled alert.
    Case(
        "only-disabled-alerts",
        _docs(
            alert("dormant", "NightlyBatchLate", enabled=False),
            alert(
                "dormant",
                "HostDown",
                enabled=False,
                category="infrastructure",
                expr='up{customer_id="dormant"} == 0',
            ),
            receiver("dormant", "oncall"),
            alert("awake", "HighErrorRate"),
            alert("awake", "LowTraffic", enabled=False, severity="info"),
            receiver("awake", "oncall"),
        ),
        _platform(),
    ),
    # Every channel kind with every field, and the minimal form of each.
    Case(
        "every-channel",
        _docs(
            receiver(
                "acme",
                "everything",
                email=[
                    {
                        "to": ["ops@acme.example", "sre@acme.example"],
                        "subjectTemplate": "[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }}",
                        "htmlTemplate": "<p>{{ .CommonAnnotations.summary }}</p>\n",
                        "textTemplate": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
                        "sendResolved": True,
                    },
                    {"to": ["boss@acme.example"]},
                ],
                slack=[
                    {
                        "apiURLSecretRef": {"name": "acme-slack", "key": "webhook-url"},
                        "channel": "#acme-alerts",
                        "titleTemplate": "{{ .CommonLabels.alertname }} ({{ .Status }})",
                        "textTemplate": "{{ .CommonAnnotations.description }}",
                        "sendResolved": False,
                    },
                    {"apiURL": "https://hooks.slack.example/services/T0/B0/x"},
                ],
                pagerduty=[
                    {
                        "routingKeySecretRef": {"name": "acme-pd", "key": "routing-key"},
                        "severity": "critical",
                        "description": "[acme] {{ .CommonLabels.alertname }}",
                        "sendResolved": True,
                    },
                    {"routingKey": "0123456789abcdef0123456789abcdef"},
                ],
                webhook=[
                    {"url": "https://hooks.acme.example/alerts", "sendResolved": False},
                    {"url": "http://127.0.0.1:9097/acme"},
                ],
            ),
        ),
        _platform({"alertmanager": {"global": SMTP}}),
    ),
    # Routes below a customer are tried in (priority, receiverName) order whatever the
    # input order; customers are ordered by id.
    Case(
        "route-order",
        _docs(
            receiver("zulu", "beta", webhook=_hook("zulu", "beta")),
            receiver("zulu", "zeta", webhook=_hook("zulu", "zeta"), route={"priority": 10}),
            receiver("zulu", "aaa", webhook=_hook("zulu", "aaa")),
            receiver("zulu", "alpha", webhook=_hook("zulu", "alpha"), route={"priority": 10}),
            receiver("zulu", "mid", webhook=_hook("zulu", "mid"), route={"priority": 5}),
            receiver("zulu", "first", webhook=_hook("zulu", "first"), route={"priority": -1}),
            receiver("alpha", "only", webhook=_hook("alpha", "only")),
        ),
        _platform(),
    ),
    # Route options exactly as given, and the platform's root defaults.
    Case(
        "route-options",
        _docs(
            receiver(
                "acme",
                "pager",
                route={
                    "priority": 1,
                    "continue": True,
                    "groupBy": ["alertname", "service"],
                    "groupWait": "0s",
                    "groupInterval": "1m30s",
                    "repeatInterval": "2h",
                },
            ),
            receiver("acme", "ungrouped", route={"priority": 2, "groupBy": []}),
            receiver("acme", "defaults", route={"priority": 3}),
        ),
        _platform(
            {
                "alertmanager": {
                    "route": {
                        "group_by": ["customer_id"],
                        "group_wait": "30s",
                        "group_interval": "5m",
                        "repeat_interval": "12h",
                    }
                }
            }
        ),
    ),
    # match.severity / match.category: one value is `=`, several an anchored regex in
    # sorted order; match.labels: equality, sorted by name, values escaped.
    Case(
        "label-matchers",
        _docs(
            receiver(
                "acme",
                "payments",
                route={
                    "priority": 1,
                    "match": {
                        "severity": ["warning", "critical"],
                        "category": ["application"],
                        "labels": {"team": "payments", "env": "prod"},
                    },
                },
            ),
            receiver(
                "acme",
                "odd-values",
                route={
                    "priority": 2,
                    "match": {
                        "severity": ["info"],
                        "category": ["infrastructure", "application"],
                        "labels": {"path": 'C:\\logs\\"today".*', "empty": ""},
                    },
                },
            ),
            receiver("acme", "rest", route={"priority": 3}),
        ),
        _platform(),
    ),
    # Secret refs become *_file paths under secretsDir/<namespace>/<secret>/<key> (the
    # namespace, not the customer id); clear values stay clear.
    Case(
        "secret-refs",
        _docs(
            {
                **receiver(
                    "acme",
                    "refs",
                    webhook=[],
                    slack=[{"apiURLSecretRef": {"name": "slack", "key": "webhook-url"}}],
                    pagerduty=[{"routingKeySecretRef": {"name": "pd", "key": "routing-key"}}],
                ),
                "metadata": {"name": "acme-refs", "namespace": "tenant-acme"},
            },
            receiver(
                "globex",
                "clear",
                webhook=[],
                slack=[{"apiURL": "https://hooks.slack.example/services/T1/B1/y"}],
                pagerduty=[{"routingKey": "fedcba9876543210fedcba9876543210"}],
            ),
        ),
        _platform({"secretsDir": "/run/alertplane/secrets/"}),
    ),
    # Only infrastructure alerts: one group, `<id>-infrastructure`.
    Case(
        "only-infrastructure",
        _docs(
            alert(
                "initech",
                "TargetDown",
                category="infrastructure",
                severity="critical",
                urgency="high",
                expr='up{customer_id="initech"} == 0',
                **{"for": "2m"},
                annotations={"summary": "{{ $labels.instance }} is down"},
            ),
            alert(
                "initech",
                "DiskFull",
                category="infrastructure",
                severity="warning",
                expr='node_filesystem_avail_ratio{customer_id="initech"} < 0.05',
                labels={"tier": "storage"},
                annotations={"summary": DROP, "runbookUrl": "https://wiki.initech.example/disk"},
            ),
            receiver("initech", "webhook"),
        ),
        _platform(),
    ),
    # Text a YAML reader could misread (1.1 booleans, numbers, durations, ': ', '#',
    # leading '{', multi-line with and without a final newline) comes back exactly.
    Case(
        "yaml-quoting",
        _docs(
            alert(
                "acme",
                "Quoting",
                expr='up{customer_id="acme", job="a: b #c"}\n  == 0',
                keepFiringFor="10m",
                labels={
                    "on": "yes",
                    "flag": "off",
                    "ratio": "0.10",
                    "window": "5m",
                    "nothing": "null",
                    "hash": "#1",
                },
                annotations={
                    "summary": "{{ $labels.job }}: down",
                    "description": "Line one.\nLine two: {{ $value }}\n",
                    "action": "- restart it",
                    "impact": "on",
                    "note": "  leading and trailing blanks  ",
                },
            ),
            alert(
                "acme",
                "Literal",
                category="infrastructure",
                expr='(\n  up{customer_id="acme"} == 0\n)\n',
                annotations={"summary": "'quoted' \"twice\" \\ back"},
            ),
        ),
        _platform(),
    ),
    # SLOs render after the alert groups, one group each (docs/slo.md): an error query
    # with the workbook's 30d factors, a good query over 28d with labels and annotations.
    Case(
        "slo",
        _docs(
            alert("acme", "HighErrorRate"),
            slo("acme", "checkout", description="Checkout requests succeed"),
            slo(
                "acme",
                "search-latency",
                objective=99.5,
                period="28d",
                sli={
                    "events": {
                        "goodQuery": 'sum(rate(search_duration_seconds_bucket{customer_id="acme", '
                        'le="0.3"}[{{.window}}]))',
                        "totalQuery": 'sum(rate(search_duration_seconds_count{customer_id="acme"}'
                        "[{{ .window }}]))",
                    }
                },
                alerting={
                    "pageAlertName": "SearchSlowFast",
                    "ticketAlertName": "SearchSlowSteady",
                    "category": "infrastructure",
                    "labels": {"team": "search"},
                    "annotations": {"runbookUrl": "https://runbooks.acme.example/search"},
                },
            ),
            receiver("acme", "oncall"),
        ),
        _platform(),
    ),
]


def render_case(case: Case) -> dict[str, str]:
    """Validate (with the real tools) and render, as `alertplane render` does."""
    platform = case.platform()
    outcome = evaluate(case.documents(), platform)
    assert outcome.ok, [str(p.obj) + ": " + p.text() for p in outcome.problems]
    assert len(outcome.valid) == len(case.documents())
    return render_valid(outcome, platform).files()


def _on_disk(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _write(directory: Path, files: dict[str, str]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    for rel, text in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))


def _diff(rel: str, golden: bytes | None, rendered: str | None) -> str:
    old = golden.decode("utf-8", errors="replace") if golden is not None else ""
    new = rendered or ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"tests/golden/{rel}" if golden is not None else "/dev/null",
        tofile=f"rendered/{rel}" if rendered is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline\n" for line in lines)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case, update_golden: bool) -> None:
    rendered = render_case(case)
    directory = GOLDEN / case.name
    if update_golden:
        _write(directory, rendered)
        return
    golden = _on_disk(directory)
    diffs = [
        _diff(f"{case.name}/{rel}", golden.get(rel), rendered.get(rel))
        for rel in sorted(golden.keys() | rendered.keys())
        if golden.get(rel) != (rendered[rel].encode("utf-8") if rel in rendered else None)
    ]
    if diffs:
        pytest.fail(
            f"rendered output of case {case.name!r} differs from tests/golden/{case.name}/:\n"
            + "".join(diffs)
            + "\nIf the change is intended, run `make golden-update` and review the diff.",
            pytrace=False,
        )


OPERATOR = "operator"  # tests/golden/operator/ belongs to the operator e2e tests


def _data(paths: Iterable[Path]) -> list[Path]:
    """The golden files and cases, without this test module (it lives next to them)."""
    return [p for p in paths if p.suffix != ".py" and "__pycache__" not in p.parts]


def test_no_stale_golden_cases(update_golden: bool) -> None:
    known = {c.name for c in CASES} | {OPERATOR}
    stale = sorted(p.name for p in _data(GOLDEN.glob("*")) if p.name not in known)
    if update_golden:
        for name in stale:
            shutil.rmtree(GOLDEN / name)
        return
    assert not stale, (
        f"tests/golden/ holds cases no test renders: {stale}; run `make golden-update`"
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_output_ignores_input_order(case: Case) -> None:
    platform = case.platform()
    outcome = evaluate(case.documents(), platform, tools=False)
    assert outcome.ok
    objects: list[Resource] = outcome.valid
    first = render(objects, platform).files()
    rng = random.Random(case.name)
    for _ in range(5):
        shuffled = objects[:]
        rng.shuffle(shuffled)
        assert render(shuffled, platform).files() == first
    assert render(objects[::-1], platform).files() == first


# -- every file under tests/golden/, as stored, through the real tools -----------------

RULE_FILES = sorted(GOLDEN.glob("*/rules/*.yml"))
ALERTMANAGER_FILES = sorted(GOLDEN.glob("*/alertmanager.yml"))


def _rel(path: Path) -> str:
    return path.relative_to(GOLDEN).as_posix()


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _skip_if_removed(path: Path, update_golden: bool) -> None:
    if update_golden and not path.exists():
        pytest.skip(f"{_rel(path)} was removed by --update-golden")


def test_every_golden_file_is_tool_checked() -> None:
    # Globbed again now: with --update-golden the files may have changed since collection.
    rules, alertmanager = set(GOLDEN.glob("*/rules/*.yml")), set(GOLDEN.glob("*/alertmanager.yml"))
    every = {p for p in _data(GOLDEN.rglob("*")) if p.is_file()}
    operator = set(OPERATOR_RULES) | set(OPERATOR_ALERTMANAGER) | set(OPERATOR_UNCHECKABLE)
    unchecked = sorted(_rel(p) for p in every - rules - alertmanager - operator)
    assert not unchecked, f"golden files no tool check covers: {unchecked}"
    assert {p.parent.name for p in alertmanager} == {c.name for c in CASES}
    assert rules


@pytest.mark.parametrize("path", RULE_FILES, ids=[_rel(p) for p in RULE_FILES])
def test_golden_rules_pass_promtool(path: Path, update_golden: bool) -> None:
    _skip_if_removed(path, update_golden)
    proc = _run("promtool", "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize("path", ALERTMANAGER_FILES, ids=[_rel(p) for p in ALERTMANAGER_FILES])
def test_golden_alertmanager_passes_amtool(path: Path, update_golden: bool) -> None:
    _skip_if_removed(path, update_golden)
    proc = _run("amtool", "check-config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_amtool_does_not_read_secret_files(tmp_path: Path) -> None:
    """The *_file paths in the goldens need not exist for check-config (see module doc)."""
    text = (GOLDEN / "secret-refs" / "alertmanager.yml").read_text(encoding="utf-8")
    missing = tmp_path / "no-such-dir"
    assert "/run/alertplane/secrets/" in text
    config = tmp_path / "alertmanager.yml"
    config.write_text(text.replace("/run/alertplane/secrets/", f"{missing}/"), encoding="utf-8")
    proc = _run("amtool", "check-config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not missing.exists()


def test_cli_render_of_examples_matches_the_golden(tmp_path: Path, update_golden: bool) -> None:
    """`alertplane render` (the documented command) writes exactly the examples golden."""
    if update_golden:
        pytest.skip("compares against the goldens being rewritten")
    out = tmp_path / "out"
    proc = _run(
        "alertplane",
        "render",
        "-f",
        str(EXAMPLES / "customers"),
        "--platform-config",
        str(EXAMPLES / "platform.yaml"),
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _on_disk(out) == _on_disk(GOLDEN / "examples")


# -- the operator's objects: the configuration they carry through the real tools --------

OPERATOR_DIR = GOLDEN / OPERATOR
OPERATOR_RULES = sorted(
    [
        *OPERATOR_DIR.glob("prometheus-operator/prometheusrules/*.yaml"),
        *OPERATOR_DIR.glob("configmap/alertplane-rules-*.yaml"),
    ]
)
OPERATOR_ALERTMANAGER = sorted(OPERATOR_DIR.glob("configmap/alertplane-alertmanager.yaml"))
# Merged as prometheus-operator merges them and checked by amtool (routes included) in
# test_operator_golden.py; the real CRD schema accepts them in the operator e2e tests, and
# Secrets hold key names only.
OPERATOR_UNCHECKABLE = sorted(
    [
        *OPERATOR_DIR.glob("prometheus-operator/alertmanagerconfigs/*.yaml"),
        *OPERATOR_DIR.glob("prometheus-operator/secrets/*.yaml"),
    ]
)


def _payloads(path: Path) -> dict[str, str]:
    """The files an operator object carries: a PrometheusRule's spec, a ConfigMap's data."""
    obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    if obj["kind"] == "PrometheusRule":
        return {"rules.yml": yaml.safe_dump(obj["spec"])}
    assert obj["kind"] == "ConfigMap", path
    return dict(obj["data"])


def test_operator_goldens_exist() -> None:
    assert OPERATOR_RULES and OPERATOR_ALERTMANAGER


@pytest.mark.parametrize("path", OPERATOR_RULES, ids=_rel)
def test_operator_golden_rules_pass_promtool(path: Path, tmp_path: Path) -> None:
    payloads = _payloads(path)
    assert payloads
    for name, text in payloads.items():
        target = tmp_path / name
        target.write_text(text, encoding="utf-8")
        proc = _run("promtool", "check", "rules", str(target))
        assert proc.returncode == 0, f"{_rel(path)} {name}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("path", OPERATOR_ALERTMANAGER, ids=_rel)
def test_operator_golden_alertmanager_passes_amtool(path: Path, tmp_path: Path) -> None:
    payloads = _payloads(path)
    assert "alertmanager.yml" in payloads
    target = tmp_path / "alertmanager.yml"
    target.write_text(payloads["alertmanager.yml"], encoding="utf-8")
    proc = _run("amtool", "check-config", str(target))
    assert proc.returncode == 0, f"{_rel(path)}:\n{proc.stdout}{proc.stderr}"

"""The warning/critical pair idiom end to end with the real tools: an upstream-shaped rule
file holding one alert name at two severities (as the node-exporter mixin writes
`NodeFilesystemSpaceFillingUp`) is imported for two customers, validated and rendered
(promtool checks the rule files), and `promtool test rules` shows both rules of a pair
firing separately — by severity — on their customer's own series only, while the other
customer's identical pair sees a fuller disk.

The rule text is written here in the upstream idiom (the corpus modules available at
test-build time hold no pair; see tests/support/import_corpus.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from alertplane.core import evaluate, render_valid
from alertplane.importer.alerts import Options
from alertplane.importer.run import import_text
from alertplane.manifests import load_text
from alertplane.model import Category
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.files import write_rendered

NAME = "NodeFilesystemSpaceFillingUp"
RATIO = "node_filesystem_avail_bytes / node_filesystem_size_bytes * 100"
UPSTREAM = {
    "groups": [
        {
            "name": "node-exporter",
            "rules": [
                {
                    "alert": NAME,
                    "expr": f"{RATIO} < 40",
                    "for": "1m",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": "Filesystem is filling up."},
                },
                {
                    "alert": NAME,
                    "expr": f"{RATIO} < 15",
                    "for": "1m",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "Filesystem is filling up."},
                },
            ],
        }
    ]
}


def _imported(customer: str) -> list[dict[str, Any]]:
    options = Options(customer=customer, category=Category.infrastructure)
    result = import_text(yaml.safe_dump(UPSTREAM), "node-exporter.yml", options)
    assert not result.refused, [str(r) for r in result.refused]
    return result.manifests


def _series(customer: str, free: str, device: str = "sda1") -> list[dict[str, str]]:
    labels = f'customer_id="{customer}", device="{device}", instance="n1"'
    return [
        {"series": f"node_filesystem_avail_bytes{{{labels}}}", "values": free},
        {"series": f"node_filesystem_size_bytes{{{labels}}}", "values": "100x20"},
    ]


def _fired(customer: str, *severities: str, device: str = "sda1") -> list[dict[str, Any]]:
    return [
        {
            "exp_labels": {
                "category": "infrastructure",
                "customer_id": customer,
                "device": device,
                "instance": "n1",
                "severity": severity,
            },
            "exp_annotations": {"summary": "Filesystem is filling up."},
        }
        for severity in severities
    ]


GLOBEX = _fired("globex", "warning", "critical", device="sdb9")


def test_a_pair_imports_as_two_objects_and_fires_separately_per_customer(tmp_path: Path) -> None:
    manifests = _imported("acme") + _imported("globex")
    assert [(m["metadata"]["name"], m["spec"]["alertName"]) for m in manifests] == [
        ("acme-node-filesystem-space-filling-up-warning", NAME),
        ("acme-node-filesystem-space-filling-up-critical", NAME),
        ("globex-node-filesystem-space-filling-up-warning", NAME),
        ("globex-node-filesystem-space-filling-up-critical", NAME),
    ]
    loaded = load_text(yaml.safe_dump_all(manifests), "imported.yaml")
    outcome = evaluate(loaded.documents, tools=True)  # promtool and amtool, as validate
    assert [p.text() for p in outcome.problems] == []
    write_rendered(tmp_path, render_valid(outcome, PlatformConfig()))
    # acme: 30% free from minute 0 (warning only), 10% from minute 10 (both fire);
    # globex: the same pair, its disk 5% free throughout (both fire, for globex only: a
    # leak would show as acme alerts on globex's device sdb9, or globex's on sda1).
    spec = {
        "rule_files": ["rules/acme.yml", "rules/globex.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    *_series("acme", "30x9 10x10"),
                    *_series("globex", "5x20", "sdb9"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": NAME,
                        "exp_alerts": _fired("acme", "warning") + GLOBEX,
                    },
                    {
                        "eval_time": "15m",
                        "alertname": NAME,
                        "exp_alerts": _fired("acme", "warning", "critical") + GLOBEX,
                    },
                ],
            }
        ],
    }
    (tmp_path / "pair_test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        ["promtool", "test", "rules", "pair_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_the_pair_test_fails_when_one_severity_is_missing(tmp_path: Path) -> None:
    """The test above can fail: only one rule of the pair rendered, promtool says so."""
    manifests = _imported("acme")[:1]  # the warning rule alone
    loaded = load_text(yaml.safe_dump_all(manifests), "imported.yaml")
    outcome = evaluate(loaded.documents, tools=False)
    write_rendered(tmp_path, render_valid(outcome, PlatformConfig()))
    spec = {
        "rule_files": ["rules/acme.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _series("acme", "10x20"),
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": NAME,
                        "exp_alerts": _fired("acme", "warning", "critical"),
                    }
                ],
            }
        ],
    }
    (tmp_path / "pair_test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        ["promtool", "test", "rules", "pair_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 1
    assert 'severity="critical"' in proc.stdout + proc.stderr

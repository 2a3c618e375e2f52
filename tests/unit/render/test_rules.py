"""Rendering contract for rule files (`rules/<customerId>.yml`), asserted on the parsed YAML:
one group per non-empty category, each rule exactly `alert`, `expr` (as written), `for`,
`keep_firing_for`, labels and annotations as contracted, nothing else."""

from __future__ import annotations

import pytest
import yaml

from tests.support.factories import DROP, alert, receiver
from tests.support.render import (
    do_render,
    one_rule,
    rules_of,
)

# -- rules/<customerId>.yml ----------------------------------------------------------


def test_one_file_per_customer_with_its_alerts_only() -> None:
    rendered = do_render(
        alert("acme", "HighErrorRate"), alert("globex", "HighErrorRate"), receiver("initech")
    )
    assert sorted(rendered.rules) == ["rules/acme.yml", "rules/globex.yml"]
    for cid in ("acme", "globex"):
        data = yaml.safe_load(rendered.rules[f"rules/{cid}.yml"])
        rules = [r for g in data["groups"] for r in g["rules"]]
        assert [r["labels"]["customer_id"] for r in rules] == [cid]
        assert [r["expr"] for r in rules] == [f'rate(errors_total{{customer_id="{cid}"}}[5m]) > 1']


def test_one_group_per_non_empty_category_in_a_fixed_order() -> None:
    data = rules_of(
        alert(name="DiskFull", category="infrastructure"),
        alert(name="HighErrorRate", category="application"),
        alert(name="HostDown", category="infrastructure"),
    )
    assert list(data) == ["groups"]
    assert [list(g) for g in data["groups"]] == [["name", "rules"], ["name", "rules"]]
    assert [g["name"] for g in data["groups"]] == ["acme-application", "acme-infrastructure"]
    assert [[r["alert"] for r in g["rules"]] for g in data["groups"]] == [
        ["HighErrorRate"],
        ["DiskFull", "HostDown"],
    ]


@pytest.mark.parametrize("category", ["application", "infrastructure"])
def test_only_one_category_gives_only_its_group(category: str) -> None:
    data = rules_of(alert(name="A", category=category), alert(name="B", category=category))
    assert [g["name"] for g in data["groups"]] == [f"acme-{category}"]


def test_rules_are_sorted_by_alert_name() -> None:
    manifests = [alert(name=n) for n in ["Zeta", "alpha", "Beta", "Alpha"]]
    for i, manifest in enumerate(manifests):
        manifest["metadata"]["name"] = f"acme-{i}"
    data = rules_of(*manifests)
    assert [r["alert"] for r in data["groups"][0]["rules"]] == ["Alpha", "Beta", "Zeta", "alpha"]


def test_rule_has_exactly_the_contracted_keys() -> None:
    rule = one_rule(**{"for": "5m"}, keepFiringFor="10m")
    assert list(rule) == ["alert", "expr", "for", "keep_firing_for", "labels", "annotations"]
    assert rule["for"] == "5m" and rule["keep_firing_for"] == "10m"


def test_optional_rule_keys_are_left_out_when_not_set() -> None:
    rule = one_rule(annotations=DROP)
    assert list(rule) == ["alert", "expr", "labels"]


@pytest.mark.parametrize(
    "expr",
    [
        'up{customer_id="acme"} == 0',
        'up{customer_id="acme",job="a: b #c"}   ==   0',
        'sum by (job) (rate(errors_total{customer_id="acme", code=~"5.."}[5m])) > 0.10',
        '(\n  up{customer_id="acme"} == 0\n)\n',
        'up{customer_id="acme"}\n  == 0',
        '# why: the exporter reports 0 when unreachable\nup{customer_id="acme"} == 0\n',
        'absent(up{customer_id="acme", job="\\"quoted\\""})',
        "up{customer_id='acme'} > bool 0",
    ],
)
def test_expr_is_rendered_exactly_as_written(expr: str) -> None:
    assert one_rule(expr=expr)["expr"] == expr


def test_labels_are_exactly_the_reserved_ones_plus_spec_labels() -> None:
    rule = one_rule(
        severity="warning", urgency="low", labels={"team": "checkout", "tier": "1", "on": "yes"}
    )
    assert rule["labels"] == {
        "customer_id": "acme",
        "severity": "warning",
        "category": "application",
        "urgency": "low",
        "team": "checkout",
        "tier": "1",
        "on": "yes",
    }


def test_urgency_label_only_when_set() -> None:
    assert one_rule(category="infrastructure", severity="info")["labels"] == {
        "customer_id": "acme",
        "severity": "info",
        "category": "infrastructure",
    }


def test_annotations_are_exactly_the_spec_annotations_with_runbook_url() -> None:
    annotations = {
        "summary": "{{ $labels.service }} fails",
        "description": "Line one.\nLine two: {{ $value }}\n",
        "impact": "Shoppers cannot pay.",
        "action": "Roll back.",
        "runbookUrl": "https://runbooks.example/errors",
        "dashboard": "https://grafana.example/d/1",
        "on": "off",
    }
    rule = one_rule(annotations=annotations)
    expected = {k: v for k, v in annotations.items() if k != "runbookUrl"}
    expected["runbook_url"] = "https://runbooks.example/errors"
    assert rule["annotations"] == expected


def test_disabled_alerts_are_not_rendered() -> None:
    data = rules_of(
        alert(name="Enabled"),
        alert(name="Disabled", enabled=False),
        alert(name="DisabledInfra", enabled=False, category="infrastructure"),
    )
    assert [[r["alert"] for r in g["rules"]] for g in data["groups"]] == [["Enabled"]]


def test_a_customer_with_only_disabled_alerts_gets_no_rule_file_but_keeps_its_route() -> None:
    rendered = do_render(alert("dormant", "A", enabled=False), alert("acme", "B"))
    assert list(rendered.rules) == ["rules/acme.yml"]
    config = yaml.safe_load(rendered.alertmanager)
    customers = [r["matchers"] for r in config["route"]["routes"]]
    assert customers == [['customer_id="acme"'], ['customer_id="dormant"']]


def test_rule_files_start_with_the_generated_header() -> None:
    text = do_render(alert()).rules["rules/acme.yml"]
    assert text.startswith("# Generated by alertplane; do not edit:")
    assert "# customer: acme\n" in text

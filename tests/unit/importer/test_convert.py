"""Rule sources → CustomerAlert manifests: the formats recognised, every field carried over
or refused with the reason, customers from --customer or a label, severities mapped, and
object names valid and unique whatever the alert name holds."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from alertplane.core import evaluate
from alertplane.importer.alerts import Options, parse_severity_map
from alertplane.importer.naming import Names, kebab
from alertplane.importer.run import import_text
from alertplane.manifests import load_text
from alertplane.model.alert import Category, Severity
from alertplane.model.common import is_dns_subdomain
from alertplane.validate import parse_document

ACME = Options(customer="acme")


def rules(*rules: dict[str, Any], name: str = "g") -> dict[str, Any]:
    return {"groups": [{"name": name, "rules": list(rules)}]}


def one(text: str, options: Options = ACME) -> dict[str, Any]:
    result = import_text(text, "in.yaml", options)
    assert not result.refused, [str(r) for r in result.refused]
    (manifest,) = result.manifests
    obj, problems = parse_document(manifest)  # what alertplane validate reads
    assert obj is not None and not problems, problems
    return manifest


def refused(text: str, options: Options = ACME) -> list[str]:
    result = import_text(text, "in.yaml", options)
    return [str(r) for r in result.refused]


ALERT = {"alert": "HighErrors", "expr": "rate(errors[5m]) > 1"}
FULL = {
    "alert": "HighErrors",
    "expr": "rate(errors[5m]) > 1\n",
    "for": "5m",
    "keep_firing_for": "10m",
    "labels": {"severity": "page", "team": "web", "category": "infrastructure", "urgency": "high"},
    "annotations": {"summary": "s", "runbook_url": "https://r", "dashboard": "d"},
}


def test_a_full_rule_becomes_a_customer_alert() -> None:
    assert one(yaml.safe_dump(rules(FULL))) == {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerAlert",
        "metadata": {"name": "acme-high-errors", "namespace": "acme"},
        "spec": {
            "customerId": "acme",
            "alertName": "HighErrors",
            "category": "infrastructure",
            "severity": "critical",
            "urgency": "high",
            "expr": 'rate(errors{customer_id="acme"}[5m]) > 1',
            "for": "5m",
            "keepFiringFor": "10m",
            "labels": {"team": "web"},
            "annotations": {"summary": "s", "runbookUrl": "https://r", "dashboard": "d"},
        },
    }


@pytest.mark.parametrize(
    "document",
    [
        rules(ALERT),
        {"namespace": "ns", **rules(ALERT)},  # mimirtool rules file
        {"ns": rules(ALERT)["groups"]},  # the ruler's /config/v1/rules export
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": rules(ALERT),
        },
    ],
)
def test_every_rule_format_is_read(document: dict[str, Any]) -> None:
    spec = one(yaml.safe_dump(document))["spec"]
    assert (spec["alertName"], spec["severity"], spec["category"]) == (
        "HighErrors",
        "warning",
        "application",
    )


def test_json_input_too() -> None:
    assert one(json.dumps(rules(ALERT)))["spec"]["alertName"] == "HighErrors"


def test_customers_from_a_label_or_the_namespace() -> None:
    labelled = rules({**ALERT, "labels": {"tenant": "globex"}})
    by_label = Options(customer_label="tenant")
    spec = one(yaml.safe_dump(labelled), by_label)["spec"]
    assert (spec["customerId"], spec.get("labels")) == ("globex", None)
    mapped = Options(customer_label="tenant", customer_map={"globex": "initech"})
    assert one(yaml.safe_dump(labelled), mapped)["spec"]["customerId"] == "initech"
    ns = yaml.safe_dump({"namespace": "acme", **rules(ALERT)})
    assert one(ns, Options(customer_label="namespace"))["spec"]["customerId"] == "acme"
    assert refused(yaml.safe_dump(rules(ALERT)), by_label) == [
        "in.yaml:1 (document 1) group 'g' rule 1 (HighErrors): no 'tenant' label to take "
        "the customer from; use --customer"
    ]
    bad = rules({**ALERT, "labels": {"tenant": "Team A"}})
    assert refused(yaml.safe_dump(bad), by_label) == [
        "in.yaml:1 (document 1) group 'g' rule 1 (HighErrors): tenant 'Team A' is not a "
        "customer id; map it with --customer-map Team A=<id>"
    ]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (
            {"record": "fixed_data", "expr": "up"},
            "record 'fixed_data' has no ':': a recorded series must not take the name of a "
            "scraped metric; rename it and the rules that read it, e.g. to ':fixed_data'",
        ),
        ({"record": "a-b:c", "expr": "up"}, "record 'a-b:c' is not a valid metric name"),
        (
            {"record": 7, "expr": "up"},
            "record must be a metric name, e.g. job:http_requests:rate5m",
        ),
        ({"record": "a:b", "expr": "up", "for": "5m"}, "unknown rule keys: for"),
        (
            {"record": "a:b", "expr": "vector(1)"},
            "expression selects no series, so it cannot be tied to this customer",
        ),
        (
            {"record": "a:b", "expr": "up", "labels": {"customer_id": "globex"}},
            "its label customer_id='globex' names another customer than 'acme'",
        ),
        ({"expr": "up"}, "a rule needs `alert:` (a name) or `record:`"),
        ({"alert": "A", "expr": ["up"]}, "expr must be PromQL text, got a list"),
        ({"alert": "A", "expr": "up", "labels": ["x"]}, "labels must map names to text"),
        ({"alert": "A", "expr": "up", "for": 5}, "for must be a duration such as 5m, got int"),
        ({"alert": "A", "expr": "up", "severity": "x"}, "unknown rule keys: severity"),
        (
            {"alert": "A", "expr": "vector(1)"},
            "expression selects no series, so it cannot be tied to this customer",
        ),
        (
            {"alert": "A", "expr": "up", "labels": {"severity": "P5"}},
            "severity 'P5' has no "
            "mapping (known: critical, emergency, error, high, info, informational, low, major, "
            "medium, minor, none, notice, page, warn, warning); add --severity-map "
            "P5=critical|warning|info",
        ),
        (
            {"alert": "A", "expr": "up", "labels": {"category": "x"}},
            "its category label 'x' is not one of application, infrastructure",
        ),
        (
            {"alert": "A", "expr": "up", "labels": {"customer_id": "globex"}},
            "its label customer_id='globex' names another customer than 'acme'",
        ),
    ],
)
def test_refusals_name_the_rule_and_the_reason(rule: dict[str, Any], reason: str) -> None:
    name = rule.get("alert", rule.get("record"))
    named = isinstance(name, str) and name
    where = "in.yaml:1 (document 1) group 'g' rule 1" + (f" ({name})" if named else "")
    assert refused(yaml.safe_dump(rules(rule))) == [f"{where}: {reason}"]


def test_one_refusal_does_not_stop_the_rest_and_order_is_kept() -> None:
    text = yaml.safe_dump(rules({"record": "r", "expr": "up"}, ALERT, {"alert": "B", "expr": "1"}))
    result = import_text(text, "in.yaml", ACME)
    assert [m["spec"]["alertName"] for m in result.manifests] == ["HighErrors"]
    assert [r.where.rsplit(" ", 1)[-1] for r in result.refused] == ["(r)", "(B)"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("- a\n", "expected a mapping, got a list"),
        (
            "kind: Pod\n",
            "not a rule file: expected `groups:` (Prometheus rule file or "
            "mimirtool namespace), a PrometheusRule, a ruler export (namespace: [groups]) or an "
            "alertmanager.yml",
        ),
        ("groups: 3\n", "groups must be a list, got int"),
        ("groups: [{rules: []}]\n", "every group must be a mapping with a name"),
    ],
)
def test_what_is_not_a_rule_source_is_refused(text: str, reason: str) -> None:
    (item,) = import_text(text, "in.yaml", ACME).refused
    assert item.reason == reason


def test_group_settings_not_carried_over_are_noted() -> None:
    text = yaml.safe_dump({"groups": [{"name": "g", "interval": "1m", "rules": [ALERT]}]})
    result = import_text(text, "in.yaml", ACME)
    assert [str(n) for n in result.notes] == [
        "in.yaml:1 (document 1) group 'g': group interval: '1m' is not carried over"
    ]


def test_severity_map_parsing() -> None:
    assert parse_severity_map("P1=critical, p5=info")["p1"] is Severity.critical
    assert parse_severity_map("")["page"] is Severity.critical
    with pytest.raises(ValueError, match=re.escape("'P1': expected VALUE=critical|warning")):
        parse_severity_map("P1")
    with pytest.raises(ValueError, match="expected VALUE="):
        parse_severity_map("P1=urgent")
    opts = Options(
        customer="acme",
        category=Category.infrastructure,
        severity_map=parse_severity_map("P1=info"),
        default_severity=Severity.info,
    )
    spec = one(yaml.safe_dump(rules({**ALERT, "labels": {"severity": "P1"}})), opts)["spec"]
    assert (spec["severity"], spec["category"]) == ("info", "infrastructure")


def test_the_warning_critical_pair_keeps_its_name_and_both_objects_name_the_severity() -> None:
    warning = {**ALERT, "labels": {"severity": "warning"}}
    critical = {**ALERT, "labels": {"severity": "critical"}}
    other = {"alert": "High-Errors", "expr": "up == 0"}  # same kebab, another alert
    for order in ([warning, critical, other], [critical, other, warning]):
        manifests = import_text(yaml.safe_dump(rules(*order)), "x", ACME).manifests
        named = {
            (m["spec"]["alertName"], m["spec"]["severity"]): m["metadata"]["name"]
            for m in manifests
        }
        assert named == {
            ("HighErrors", "warning"): "acme-high-errors-warning",
            ("HighErrors", "critical"): "acme-high-errors-critical",
            ("High-Errors", "warning"): "acme-high-errors-070837ee",
        }
        loaded = load_text(yaml.safe_dump_all(manifests), "out.yaml")
        assert evaluate(loaded.documents, tools=False).problems == []


def test_a_pair_named_twice_at_one_severity_is_refused_by_validate_as_the_duplicate() -> None:
    twice = rules(
        {**ALERT, "labels": {"severity": "warning"}},
        {**ALERT, "labels": {"severity": "critical"}},
        {**ALERT},  # the default severity: warning again
    )
    manifests = import_text(yaml.safe_dump(twice), "x", ACME).manifests
    names = [m["metadata"]["name"] for m in manifests]
    assert names == ["acme-high-errors", "acme-high-errors-critical", "acme-high-errors-warning"]
    loaded = load_text(yaml.safe_dump_all(manifests), "out.yaml")
    assert [str(p) for p in evaluate(loaded.documents, tools=False).problems] == [
        "CustomerAlert acme/acme-high-errors-warning: spec.alertName: customer 'acme' already "
        "has alert 'HighErrors' at severity 'warning' (CustomerAlert acme/acme-high-errors); "
        "choose another name, or another severity (a warning/critical pair may share the "
        "name), or remove one of the two"
    ]


@pytest.mark.parametrize(
    ("alert", "name"),
    [
        ("KubePodCrashLooping", "kube-pod-crash-looping"),
        ("Cert-managerAbsent", "cert-manager-absent"),
        ("HTTPRequestsHigh", "http-requests-high"),
        ("Node (CPU) > 90%", "node-cpu-90"),
        ("🔥", "alert"),
        ("etcdHighNumberOfFailedGRPCRequests", "etcd-high-number-of-failed-grpc-requests"),
    ],
)
def test_kebab(alert: str, name: str) -> None:
    assert kebab(alert) == name


@given(st.lists(st.text(max_size=300), min_size=1, max_size=20))
def test_names_are_valid_unique_and_deterministic(alerts: list[str]) -> None:
    first, second = Names(), Names()
    a = [first.take("tenant-42", x, "warning") for x in alerts]
    b = [second.take("tenant-42", x, "warning") for x in alerts]
    assert a == b and len(set(a)) == len(a)
    assert all(is_dns_subdomain(n) for n in a), a

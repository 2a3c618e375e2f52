"""CustomerRecordingRule: the model's messages, its checks and its place in the rules file
(issue 14 §2), asserted exactly."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from alertplane.model import TABLE, info, name_of
from alertplane.render.keep_rules import Wanted, prune_rules, wanted_alerts
from alertplane.validate import parse_document, validate_objects
from alertplane.validate.schema import Parsed
from tests.support.factories import DROP, alert, obj, recording_rule
from tests.support.render import do_render


def _problems(manifest: dict[str, Any]) -> list[str]:
    parsed, problems = parse_document(manifest)
    if parsed is None:
        return [p.text() for p in problems]
    return [p.text() for p in validate_objects([Parsed(parsed)])]


HINT = (
    "name it level:metric:operations with letters, digits, '_' and ':', e.g. "
    "'job:http_requests:rate5m'"
)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            "http_requests_total",
            "'http_requests_total' has no ':': a recorded series must not take the name of a "
            "scraped metric",
        ),
        ("up", "'up' has no ':': a recorded series must not take the name of a scraped metric"),
        ("job:errors-5m", "'job:errors-5m' is not a valid metric name"),
        ("1job:x", "'1job:x' is not a valid metric name"),
        ("", "the record name is empty"),
        ("a:" + "b" * 200, f"{'a:' + 'b' * 38!r}… (202 characters) is too long: at most 189 "
         "characters"),
    ],
)  # fmt: skip
def test_a_record_name_is_a_metric_name_with_a_colon(record: str, message: str) -> None:
    assert _problems(recording_rule(record=record)) == [f"spec.record: {message}; {HINT}"]


@pytest.mark.parametrize("record", ["job:errors:rate5m", ":x", "a:", "instance_path:x:y_z"])
def test_colon_names_are_accepted(record: str) -> None:
    assert _problems(recording_rule(record=record)) == []


def test_the_expression_passes_the_isolation_check() -> None:
    found = _problems(recording_rule(expr="sum(rate(errors_total[5m]))"))
    assert len(found) == 1
    assert found[0].startswith("spec.expr: selector errors_total")
    other = _problems(recording_rule(expr='sum(errors_total{customer_id="globex"})'))
    assert len(other) == 1 and "globex" in other[0]


def test_auto_inject_adds_the_tenant_matcher() -> None:
    from alertplane.core import DRY_RUN, admit
    from alertplane.manifests import Document

    manifest = recording_rule(expr="sum(rate(errors_total[5m]))", autoInject=True)
    admission = admit([Document(None, manifest)], DRY_RUN.with_tools(False))  # type: ignore[arg-type]
    assert [p.text() for p in admission.problems] == []
    (parsed,) = admission.parsed
    assert parsed.obj.spec.expr == 'sum(rate(errors_total{customer_id="acme"}[5m]))'


def test_customer_id_label_is_reserved_and_label_names_checked() -> None:
    assert _problems(recording_rule(labels={"customer_id": "acme"})) == [
        "spec.labels.customer_id: label 'customer_id' is set by alertplane; remove it; every "
        "recorded series carries spec.customerId as customer_id"
    ]
    assert _problems(recording_rule(labels={"__name__": "x"})) == [
        "spec.labels.__name__: '__name__' is not a valid label name; use letters, digits and "
        "'_', not starting with a digit or '__'"
    ]


def _renamed(manifest: dict[str, Any], name: str) -> Any:
    one = obj(manifest)
    return one.model_copy(update={"metadata": one.metadata.model_copy(update={"name": name})})


def test_a_record_is_unique_per_customer_with_its_labels() -> None:
    """Upstream mixins record one series name from several rules told apart by their labels
    (Mimir's `cluster_namespace_deployment_reason:required_replicas:count`, 9 rules)."""
    cpu = obj(recording_rule(labels={"reason": "cpu"}))
    memory = _renamed(recording_rule(labels={"reason": "memory"}), "m")
    plain = _renamed(recording_rule(), "p")
    assert validate_objects([Parsed(cpu), Parsed(memory), Parsed(plain)]) == []
    again = _renamed(recording_rule(labels={"reason": "cpu"}), "again")
    problems = validate_objects([Parsed(cpu), Parsed(again)])
    assert [p.text() for p in problems] == [
        "spec.record: customer 'acme' already has recording rule 'job:errors:rate5m' with the "
        "same labels (CustomerRecordingRule acme/acme-job-errors-rate5m); give it other "
        "labels, choose another name or remove one of the two"
    ]
    other = obj(recording_rule(customer="globex", labels={"reason": "cpu"}))
    assert validate_objects([Parsed(cpu), Parsed(other)]) == []


def test_rendered_after_the_alert_groups_with_customer_id_forced() -> None:
    rendered = do_render(
        alert(),
        recording_rule(record="job:b:rate5m", labels={"team": "web"}),
        recording_rule(record="job:a:rate5m"),
        recording_rule(customer="globex"),
        recording_rule(record="job:off:rate5m", enabled=False),
    )
    data = yaml.safe_load(rendered.rules["rules/acme.yml"])
    assert [g["name"] for g in data["groups"]] == ["acme-application", "acme-records"]
    assert data["groups"][1]["rules"] == [
        {
            "record": "job:a:rate5m",
            "expr": 'sum by (job) (rate(errors_total{customer_id="acme"}[5m]))',
            "labels": {"customer_id": "acme"},
        },
        {
            "record": "job:b:rate5m",
            "expr": 'sum by (job) (rate(errors_total{customer_id="acme"}[5m]))',
            "labels": {"customer_id": "acme", "team": "web"},
        },
    ]
    globex = yaml.safe_load(rendered.rules["rules/globex.yml"])
    assert [g["name"] for g in globex["groups"]] == ["globex-records"]


def test_a_customer_with_only_disabled_rules_has_no_file() -> None:
    assert do_render(recording_rule(enabled=False)).rules == {}


def test_the_table_names_each_kind() -> None:
    entry = info("CustomerRecordingRule")
    assert (entry.plural, entry.rest, entry.name_field, entry.attr, entry.noun) == (
        "customerrecordingrules",
        "recordingrules",
        "record",
        "record",
        "recording rule",
    )
    assert name_of(obj(recording_rule())) == "job:errors:rate5m"
    names = [n for k in TABLE for n in k.short]
    assert len(names) == len(set(names))  # a CLI name means one kind


def test_a_kept_file_loses_a_deleted_or_disabled_recording_rule() -> None:
    previous = do_render(
        alert(), recording_rule(record="job:a:x"), recording_rule(record="job:b:x")
    ).rules["rules/acme.yml"]
    docs = [alert(), recording_rule(record="job:a:x", enabled=False)]
    wanted = wanted_alerts(docs, lambda d: d["spec"]["customerId"])["acme"]
    text, dropped = prune_rules(previous, wanted, "acme")
    assert dropped == ["job:a:x", "job:b:x"]
    data = yaml.safe_load(text)
    assert [g["name"] for g in data["groups"]] == ["acme-application"]
    # An alert named like a record is another rule: only the kind's own key counts.
    same = wanted_alerts([alert(name="job:a:x"), recording_rule(record="job:a:x")], _cid)
    assert prune_rules(previous, same["acme"], "acme")[1] == ["HighErrorRate", "job:b:x"]
    assert Wanted().drops(("record", "x")) is True


def _cid(data: dict[str, Any]) -> str:
    return str(data["spec"]["customerId"])


def test_a_record_needs_its_fields() -> None:
    assert _problems(recording_rule(expr=DROP)) == [
        "spec.expr: required field is missing; add expr"
    ]
    assert _problems(recording_rule(expr="")) == [
        "spec.expr: must not be empty; give at least one value"
    ]


def test_a_rule_comes_after_the_rules_whose_series_it_reads() -> None:
    """Prometheus evaluates a group in order: a reader before its source would read the
    previous evaluation's value (and nothing at the first)."""
    reader = recording_rule(
        record="a:ratio", expr='b:x{customer_id="acme"} / c:y{customer_id="acme"}'
    )
    middle = recording_rule(record="b:x", expr='sum(c:y{customer_id="acme"})')
    c1 = recording_rule(record="c:y", labels={"reason": "1"})
    c2 = recording_rule(record="c:y", labels={"reason": "2"})
    plain = recording_rule(record="_:plain")
    named = [_renamed(m, f"o{i}") for i, m in enumerate([reader, middle, c1, c2, plain])]
    from alertplane.render import render

    text = render(named).rules["rules/acme.yml"]
    rules = yaml.safe_load(text)["groups"][0]["rules"]
    assert [(r["record"], r["labels"].get("reason")) for r in rules] == [
        ("_:plain", None),
        ("c:y", "1"),
        ("c:y", "2"),
        ("b:x", None),
        ("a:ratio", None),
    ]
    cycle = [
        _renamed(recording_rule(record="x:a", expr='x:b{customer_id="acme"}'), "p"),
        _renamed(recording_rule(record="x:b", expr='x:a{customer_id="acme"}'), "q"),
    ]
    rules = yaml.safe_load(render(cycle).rules["rules/acme.yml"])["groups"][0]["rules"]
    assert [r["record"] for r in rules] == ["x:a", "x:b"]


def test_the_mimir_sink_puts_recording_rules_in_a_namespace_of_their_own() -> None:
    from alertplane.render.mimir import rule_namespaces

    text = do_render(alert(), recording_rule()).rules["rules/acme.yml"]
    spaces = rule_namespaces("acme", text)
    assert list(spaces) == ["alertplane-application", "alertplane-records"]
    (group,) = spaces["alertplane-records"]
    assert group["name"] == "acme-records"
    assert [r["labels"] for r in group["rules"]] == [{"customer_id": "acme"}]

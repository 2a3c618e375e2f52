"""Recording rules → CustomerRecordingRule manifests (issue 14 §2): the tenant matcher
injected like an alert's, customer_id taken from the labels, names kept, object names of
their own (a record and an alert may kebab alike)."""

from __future__ import annotations

import yaml

from alertplane.importer.alerts import Options
from alertplane.importer.run import import_text
from alertplane.validate import parse_document, validate_objects
from alertplane.validate.schema import Parsed

ACME = Options(customer="acme")


def _import(*rules: dict[str, object], options: Options = ACME) -> list[dict[str, object]]:
    text = yaml.safe_dump({"groups": [{"name": "g", "rules": list(rules)}]})
    result = import_text(text, "in.yaml", options)
    assert not result.refused, [str(r) for r in result.refused]
    parsed = []
    for manifest in result.manifests:
        obj, problems = parse_document(manifest)
        assert obj is not None and not problems, problems
        parsed.append(Parsed(obj))
    assert validate_objects(parsed) == []  # what `alertplane validate` says of them
    return result.manifests


def test_a_recording_rule_becomes_a_customer_recording_rule() -> None:
    (manifest,) = _import(
        {
            "record": ":http_failure_per_request:sum_rate",
            "expr": 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))\n'
            "/ sum by (job) (rate(http_requests_total[5m]))\n",
            "labels": {"quantile": "0.99", "customer_id": "acme"},
        }
    )
    assert manifest == {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerRecordingRule",
        "metadata": {"name": "acme-http-failure-per-request-sum-rate", "namespace": "acme"},
        "spec": {
            "customerId": "acme",
            "record": ":http_failure_per_request:sum_rate",
            "expr": 'sum by (job) (rate(http_requests_total{code=~"5..",customer_id="acme"}'
            '[5m]))\n/ sum by (job) (rate(http_requests_total{customer_id="acme"}[5m]))\n',
            "labels": {"quantile": "0.99"},
        },
    }


def test_customer_from_a_label_and_the_label_dropped() -> None:
    (manifest,) = _import(
        {"record": "job:x:rate5m", "expr": "rate(x[5m])", "labels": {"tenant": "globex"}},
        options=Options(customer_label="tenant"),
    )
    spec = manifest["spec"]
    assert isinstance(spec, dict)
    assert (spec["customerId"], spec.get("labels")) == ("globex", None)
    assert spec["expr"] == 'rate(x{customer_id="globex"}[5m])'


def test_a_record_and_an_alert_of_one_name_get_names_of_their_own_kind() -> None:
    alert, record = _import(
        {"alert": "JobXRate5m", "expr": "x > 1"},
        {"record": "job_x:rate5m", "expr": "rate(x[5m])"},
    )
    assert alert["metadata"] == {"name": "acme-job-x-rate5m", "namespace": "acme"}
    assert record["metadata"] == {"name": "acme-job-x-rate5m", "namespace": "acme"}
    assert (alert["kind"], record["kind"]) == ("CustomerAlert", "CustomerRecordingRule")


def test_a_label_name_prometheus_refuses_is_refused_with_the_rule() -> None:
    """`__name__` in a recording rule's labels would rename the recorded series (and
    Prometheus refuses it): refused with the reason, not written as a manifest that
    `alertplane validate` then refuses."""
    rule = {"record": "job:w:r", "expr": "up", "labels": {"__name__": "up", "team": "a"}}
    text = yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]})
    result = import_text(text, "in.yaml", ACME)
    assert result.manifests == []
    assert [r.reason for r in result.refused] == [
        "its label '__name__' is not a valid label name; use letters, digits and '_', not "
        "starting with a digit or '__'"
    ]

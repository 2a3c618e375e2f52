"""CustomerAlert validation: every rule, asserted as the exact line `validate` prints.

Sources of the messages (each has a row below): `validate.schema` (kind, apiVersion,
pydantic errors: missing, unknown field, enum, type, empty, the custom field checks of
`model.common`), `validate.fields.check_alert` (reserved and malformed labels,
annotation names, runbook URL, `{{ define }}`), `validate.promql` (parse errors; the
isolation rules themselves are proven in tests/integration/test_isolation_*.py),
`validate.unique` and `validate.templates` are in tests/unit/validate/test_unique.py and
tests/integration/test_validate_templates.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alertplane.model import CustomerAlert
from alertplane.validate.schema import _problem, problems_from
from tests.support.factories import DROP, alert
from tests.support.problems import lines

A = "CustomerAlert acme/acme-higherrorrate: "
LABEL_HINT = "use letters, digits and '_', not starting with a digit or '__'"
DURATION_HINT = "use a Prometheus duration such as 30s, 5m, 1h30m or 7d"
SPEC_FIELDS = (
    "customerId, alertName, category, severity, urgency, enabled, expr, template, autoInject, "
    "for, keepFiringFor, "
    "labels, annotations, tests"
)


def _doc(**top: Any) -> dict[str, Any]:
    """The factory alert with top-level keys replaced (DROP deletes one)."""
    doc = alert()
    for key, value in top.items():
        if value is DROP:
            del doc[key]
        else:
            doc[key] = value
    return doc


SCHEMA = [
    # --- spec.customerId: DNS label, at most 63 characters
    (
        "customer-id-pattern",
        alert(customerId="Acme_Corp"),
        "spec.customerId: 'Acme_Corp' is not a valid customer id; use lower-case letters, "
        "digits and '-', start and end with a letter or digit, at most 63 characters "
        "(e.g. 'acme')",
    ),
    (
        "customer-id-64-chars",
        alert(customerId="a" * 64),
        f"spec.customerId: {'a' * 40!r}… (64 characters) is too long: at most 63 characters; "
        "use lower-case letters, "
        "digits and '-', start and end with a letter or digit, at most 63 characters "
        "(e.g. 'acme')",
    ),
    (
        "customer-id-trailing-dash",
        alert(customerId="acme-"),
        "spec.customerId: 'acme-' is not a valid customer id; use lower-case letters, "
        "digits and '-', start and end with a letter or digit, at most 63 characters "
        "(e.g. 'acme')",
    ),
    (
        "customer-id-number",
        alert(customerId=42),
        "spec.customerId: expected a string, got the number 42; quote it",
    ),
    # --- spec.alertName
    (
        "alert-name-empty",
        alert(alertName=""),
        "spec.alertName: the alert name is empty; any text of 1 to 189 characters on one "
        "line, e.g. 'HighErrorRate' or 'Disk > 90%'",
    ),
    (
        "alert-name-newline",
        alert(alertName="High\nErrors"),
        "spec.alertName: 'High\\nErrors' contains a control character (U+000A) at character "
        "5; remove it: an alert name is one line of text that displays as it is stored",
    ),
    (
        "alert-name-rtl-override",
        alert(alertName="Disk\u202efull"),
        "spec.alertName: 'Disk\\u202efull' contains a bidirectional control character "
        "(U+202E) at character 5; remove it: an alert name is one line of text that displays "
        "as it is stored",
    ),
    (
        "alert-name-line-separator",
        alert(alertName="a\u2028b"),
        "spec.alertName: 'a\\u2028b' contains a line separator character (U+2028) at "
        "character 2; remove it: an alert name is one line of text that displays as it is "
        "stored",
    ),
    # --- enums
    (
        "category",
        alert(category="app"),
        "spec.category: 'app' is not allowed; use one of 'application' or 'infrastructure'",
    ),
    (
        "category-null",
        alert(category=None),
        "spec.category: null is not allowed; use one of 'application' or 'infrastructure'",
    ),
    (
        "severity",
        alert(severity="high"),
        "spec.severity: 'high' is not allowed; use one of 'critical', 'warning' or 'info'",
    ),
    (
        "urgency",
        alert(urgency="urgent"),
        "spec.urgency: 'urgent' is not allowed; use one of 'high', 'medium' or 'low'",
    ),
    (
        "enabled",
        alert(enabled="maybe"),
        "spec.enabled: expected true or false, got the string 'maybe'; write true or false here",
    ),
    # --- spec.expr
    ("expr-empty", alert(expr=""), "spec.expr: must not be empty; give at least one value"),
    (
        "expr-list",
        alert(expr=["up"]),
        "spec.expr: expected a string, got a list; write a string here",
    ),
    (
        "expr-invalid-promql",
        alert(expr='sum(rate(errors_total{customer_id="acme"}[5m]) > 1'),
        "spec.expr: invalid PromQL at 1:51: unclosed left parenthesis; fix the expression; it "
        "must be valid Prometheus PromQL",
    ),
    (
        "expr-number-is-text",  # YAML reads `expr: 1` as a number; it is PromQL text
        alert(expr=1),
        "spec.expr: expression selects no series, so it cannot be tied to this customer; "
        'select a metric with customer_id="acme", e.g. up{customer_id="acme"} == 0',
    ),
    # --- durations
    (
        "for",
        alert(**{"for": "5 minutes"}),
        f"spec.for: '5 minutes' is not a valid duration; {DURATION_HINT}",
    ),
    (
        "for-number",
        alert(**{"for": 300}),
        "spec.for: expected a string, got the number 300; quote it",
    ),
    (
        "keep-firing-for",
        alert(keepFiringFor="1x"),
        f"spec.keepFiringFor: '1x' is not a valid duration; {DURATION_HINT}",
    ),
    (
        "keep-firing-for-negative",
        alert(keepFiringFor="-5m"),
        f"spec.keepFiringFor: '-5m' is not a valid duration; {DURATION_HINT}",
    ),
    # --- labels and annotations: types
    (
        "labels-list",
        alert(labels=["team"]),
        "spec.labels: expected a mapping, got a list; write a mapping here",
    ),
    (
        "label-value-number",
        alert(labels={"tier": 1}),
        "spec.labels.tier: expected a string, got the number 1; quote it",
    ),
    (
        "label-value-null",
        alert(labels={"tier": None}),
        "spec.labels.tier: expected a string, got null; write a string here",
    ),
    (
        "label-key-number",
        alert(labels={1: "x"}),
        "spec.labels: key 1 is not a string; quote the key",
    ),
    (
        "annotation-key-bool",
        alert(annotations={True: "x"}),
        "spec.annotations: key true is not a string; quote the key",
    ),
    (
        "annotation-value-number",
        alert(annotations={"dashboard": 7}),
        "spec.annotations.dashboard: expected a string, got the number 7; quote it",
    ),
    (
        "annotations-list",
        alert(annotations=["summary"]),
        "spec.annotations: expected a mapping, got a list; write a mapping here",
    ),
    # --- unknown fields, with did-you-mean where one is close
    (
        "unknown-typo",
        alert(keepFiringFr="5m"),
        "spec.keepFiringFr: unknown field; did you mean keepFiringFor?",
    ),
    ("unknown-case", alert(FOR="5m"), "spec.FOR: unknown field; did you mean for?"),
    (
        "unknown-snake-case",
        alert(customer_id="acme"),
        "spec.customer_id: unknown field; did you mean customerId?",
    ),
    # The CRDs accept the camelCase spelling only; Python names are no synonyms.
    (
        "snake-case-instead-of-a-required-field",
        alert(customerId=DROP, customer_id="acme"),
        "spec.customer_id: unknown field; did you mean customerId?",
    ),
    (
        "snake-case-optional-field",
        alert(keep_firing_for="5m"),
        "spec.keep_firing_for: unknown field; did you mean keepFiringFor?",
    ),
    ("python-name-of-for", alert(for_="5m"), "spec.for_: unknown field; did you mean for?"),
    (
        "unknown-with-newline",  # quoted, so the problem stays one line
        alert(**{"a\nb": 1}),
        f"spec.'a\\nb': unknown field; remove it; allowed here: {SPEC_FIELDS}",
    ),
    (
        "unknown-far",
        alert(owner="team-a"),
        f"spec.owner: unknown field; remove it; allowed here: {SPEC_FIELDS}",
    ),
    # --- metadata
    (
        "metadata-generation",
        _doc(metadata={"name": "acme-higherrorrate", "namespace": "acme", "generation": "x"}),
        "metadata.generation: expected an integer, got the string 'x'; write an integer here",
    ),
    (
        "status",
        _doc(status="ok"),
        "status: expected a mapping, got the string 'ok'; write a mapping here",
    ),
    ("spec-null", _doc(spec=None), "spec: expected a mapping, got null; write a mapping here"),
    ("spec-missing", _doc(spec=DROP), "spec: required field is missing; add spec"),
    (
        "api-version",
        _doc(apiVersion="alertplane.io/v1"),
        "apiVersion: unsupported apiVersion 'alertplane.io/v1'; use apiVersion: "
        "alertplane.io/v1alpha1",
    ),
    (
        "api-version-missing",
        _doc(apiVersion=DROP),
        "apiVersion: missing apiVersion; use apiVersion: alertplane.io/v1alpha1",
    ),
]

FIELDS = [
    *[
        (
            f"reserved-{label}",
            alert(labels={label: "x"}),
            f"spec.labels.{label}: label '{label}' is set by alertplane; "
            f"remove it; set spec.{field}",
        )
        for label, field in (
            ("customer_id", "customerId"),
            ("severity", "severity"),
            ("category", "category"),
            ("urgency", "urgency"),
        )
    ],
    *[
        (
            f"label-name-{name}",
            alert(labels={name: "x"}),
            f"spec.labels.{name}: '{name}' is not a valid label name; {LABEL_HINT}",
        )
        for name in ("1tier", "__tier", "tier-1")
    ],
    (
        "label-name-newline",
        alert(labels={"a\nb": "x"}),
        f"spec.labels.'a\\nb': 'a\\nb' is not a valid label name; {LABEL_HINT}",
    ),
    *[
        (
            f"annotation-like-{key}",
            alert(annotations={key: "x"}),
            f"spec.annotations.{key}: annotation '{key}' looks like '{known}'; "
            f"rename it to {known}",
        )
        for key, known in (
            ("Summary", "summary"),
            ("descripton", "description"),
            ("runbookURL", "runbookUrl"),
        )
    ],
    (
        "annotation-like-runbook_url",  # alone, runbook_url is read as runbookUrl
        alert(annotations={"runbookUrl": "https://r", "runbook_url": "https://r"}),
        "spec.annotations.runbook_url: annotation 'runbook_url' looks like 'runbookUrl'; "
        "rename it to runbookUrl",
    ),
    (
        "annotation-name",
        alert(annotations={"see-also": "x"}),
        f"spec.annotations.see-also: 'see-also' is not a valid label name; {LABEL_HINT}",
    ),
    (
        "runbook-url",
        alert(annotations={"runbookUrl": "www.example.com/runbook"}),
        "spec.annotations.runbookUrl: 'www.example.com/runbook' is not an http(s) URL; give an "
        "absolute URL such as https://runbooks.example.com/disk-full",
    ),
    (
        "define-in-annotation",
        alert(annotations={"summary": '{{ define "s" }}x{{ end }}'}),
        "spec.annotations.summary: templates may not define named templates "
        '({{ define }}/{{ block }}); inline the text, or use {{ template "name" . }} to call '
        "an existing one",
    ),
    (
        "block-in-runbook-url",
        alert(annotations={"runbookUrl": '{{- block "u" . }}https://x{{ end }}'}),
        "spec.annotations.runbookUrl: templates may not define named templates "
        '({{ define }}/{{ block }}); inline the text, or use {{ template "name" . }} to call '
        "an existing one",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in SCHEMA], ids=[c[0] for c in SCHEMA])
def test_schema_rule(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [A + expected]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in FIELDS], ids=[c[0] for c in FIELDS])
def test_field_rule(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [A + expected]


def test_every_missing_required_field_is_named() -> None:
    doc = alert(customerId=DROP, alertName=DROP, category=DROP, severity=DROP, expr=DROP)
    assert lines(doc) == [
        A + f"spec.{f}: required field is missing; add {f}"
        for f in ("customerId", "alertName", "category", "severity")
    ]


def test_an_alert_without_expr_or_template_is_refused() -> None:
    assert lines(alert(expr=DROP)) == [
        A + "spec: one of expr or template is required; write the PromQL in expr, or name a "
        "template of the platform's catalogue"
    ]


def test_python_code_still_builds_models_by_field_name() -> None:
    # Only manifests must be camelCase; code (model_copy, tests, the API) uses names.
    spec = CustomerAlert.model_validate(alert()).spec
    built = type(spec)(**{name: getattr(spec, name) for name in type(spec).model_fields})
    assert built == spec and built.customer_id == "acme"


def test_a_renamed_top_level_field_reports_both_sides() -> None:
    doc = alert()
    doc["specs"] = doc.pop("spec")
    assert lines(doc) == [
        A + "spec: required field is missing; add spec",
        A + "specs: unknown field; did you mean spec?",
    ]


def test_a_bad_name_or_namespace_is_still_used_to_name_the_object() -> None:
    doc = _doc(metadata={"name": "Acme_Cpu", "namespace": "acme"})
    assert lines(doc) == [
        "CustomerAlert acme/Acme_Cpu: metadata.name: 'Acme_Cpu' is not a valid object name; "
        "use lower-case letters, digits, '-' and '.' (e.g. 'acme-high-error-rate')"
    ]
    doc = _doc(metadata={"name": "acme-cpu", "namespace": "Acme"})
    assert lines(doc) == [
        "CustomerAlert Acme/acme-cpu: metadata.namespace: 'Acme' is not a valid namespace; "
        "use lower-case letters, digits and '-', at most 63 characters"
    ]


def test_an_object_without_metadata_is_named_by_kind_only() -> None:
    doc = _doc(metadata=DROP)
    assert lines(doc) == [
        "CustomerAlert default/<unnamed>: metadata: required field is missing; add metadata"
    ]


def test_problems_of_one_object_come_in_field_order_and_all_at_once() -> None:
    doc = alert(
        labels={"severity": "x", "1a": "y"},
        annotations={"Summary": "s", "runbookUrl": "ftp://x"},
    )
    assert lines(doc) == [
        A + "spec.labels.severity: label 'severity' is set by alertplane; remove it; "
        "set spec.severity",
        A + f"spec.labels.1a: '1a' is not a valid label name; {LABEL_HINT}",
        A + "spec.annotations.Summary: annotation 'Summary' looks like 'summary'; "
        "rename it to summary",
        A + "spec.annotations.runbookUrl: 'ftp://x' is not an http(s) URL; give an absolute "
        "URL such as https://runbooks.example.com/disk-full",
    ]


def test_pydantic_errors_without_their_own_wording_still_get_path_and_hint() -> None:
    # kind/apiVersion are checked before the model, so a Literal error only reaches
    # problems_from when a model is validated directly (as the API does).
    with pytest.raises(ValidationError) as err:
        CustomerAlert.model_validate({**alert(), "kind": "CustomerReceiver"})
    assert [str(p) for p in problems_from(err.value, CustomerAlert)] == [
        "kind: 'CustomerReceiver' is not allowed; use 'CustomerAlert'"
    ]
    unknown = {"type": "something_new", "loc": ("spec", "x"), "msg": "Odd", "input": 1}
    assert str(_problem(unknown, ("spec", "x"), CustomerAlert)) == "spec.x: Odd; fix this value"

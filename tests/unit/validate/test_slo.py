"""CustomerSLO validation (model/slo.py, validate/slo.py): every rule as its exact line."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alertplane.model.slo import CustomerSLO
from alertplane.validate.schema import problems_from
from alertplane.validate.slo import check_query, check_slo
from tests.support.slo import TOTAL, slo, slo_obj

WINDOW_HINT = "write each range as [{{.window}}], e.g. rate(http_requests_total{...}[{{.window}}])"


def _schema(**spec: Any) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        CustomerSLO.model_validate(slo(**spec))
    return [p.text() for p in problems_from(exc.value, CustomerSLO)]


def _checks(**spec: Any) -> list[str]:
    return [p.text() for p in check_slo(slo_obj(**spec))]


def _events(error: str | None = None, total: str = TOTAL.format(c="acme")) -> dict[str, Any]:
    events: dict[str, Any] = {"totalQuery": total}
    if error is not None:
        events["errorQuery"] = error
    return {"events": events}


def test_a_valid_slo_has_no_problem() -> None:
    assert _checks() == []
    assert _checks(period="7d") == []
    assert _checks(period="90d") == []


def test_exactly_one_of_error_and_good_query() -> None:
    both = {**_events('sum(rate(e{customer_id="acme"}[{{.window}}]))')["events"]}
    both["goodQuery"] = both["errorQuery"]
    message = (
        "spec.sli.events: give exactly one of errorQuery and goodQuery; errorQuery counts "
        "failed events, goodQuery successful ones; both are divided by totalQuery"
    )
    assert _schema(sli={"events": both}) == [message]
    assert _schema(sli=_events()) == [message]


@pytest.mark.parametrize(("objective", "bound"), [(100, "less than 100"), (0, "greater than 0")])
def test_objective_range(objective: float, bound: str) -> None:
    assert _schema(objective=objective) == [
        f"spec.objective: Input should be {bound}; fix this value"
    ]


def test_slo_name() -> None:
    assert _schema(name="Checkout_1")[1:] == [
        "spec.sloName: 'Checkout_1' is not a valid SLO name; use lower-case letters, digits "
        "and '-', start and end with a letter or digit, at most 63 characters (e.g. "
        "'checkout-availability')"
    ]


@pytest.mark.parametrize("period", ["6d23h", "91d", "1y"])
def test_period_range(period: str) -> None:
    assert _checks(period=period) == [
        f"spec.period: period {period!r} is outside 7d to 90d; the slowest alert reads 3d "
        "and the period's ratio averages every 5m ratio in it: use 7d to 90d (30d is the "
        "SRE workbook's)"
    ]


def test_query_without_placeholder() -> None:
    assert _checks(sli=_events('sum(rate(e{customer_id="acme"}[5m]))')) == [
        "spec.sli.events.errorQuery: the query has no [{{.window}}] range: every window would "
        f"compute the same ratio; {WINDOW_HINT}"
    ]


@pytest.mark.parametrize(
    "query",
    [
        # In a label value, the windows would select different series: customer "acme5m"
        # for one window, "acme1h" for the next.
        'sum(rate(e{customer_id="acme{{.window}}"}[{{.window}}]))',
        'sum(rate(e{customer_id="acme"}[{{.window}}])) * {{ 1 }}',
        'sum(rate(e{customer_id="acme"}[{{.window}}] offset {{.window}}))',
    ],
)
def test_placeholder_only_as_a_range(query: str) -> None:
    assert _checks(sli=_events(query)) == [
        "spec.sli.events.errorQuery: a query may hold {{.window}} only as a range, "
        f"[{{{{.window}}}}], and no other template; {WINDOW_HINT}"
    ]


def test_query_isolation_on_its_own_field() -> None:
    assert _checks(
        sli=_events(
            total='sum(rate(e{customer_id="globex"}[{{ .window }}]))',
            error='sum(rate(e{customer_id="acme"}[{{.window}}]))',
        )
    ) == [
        'spec.sli.events.totalQuery: selector e{customer_id="globex"} selects customer '
        '"globex"; an alert of customer acme may only select customer_id="acme"'
    ]
    assert _checks(sli=_events('sum(rate(e{code="500"}[{{.window}}]))')) == [
        'spec.sli.events.errorQuery: selector e{code="500"} has no customer_id="acme" matcher; '
        'add customer_id="acme" inside its braces'
    ]


def test_parse_error_positions_point_into_the_query_as_written() -> None:
    query = 'sum(rate(e{customer_id="acme"}[ {{ .window }} ])) +'
    assert [p.text() for p in check_query("q", query, "acme")] == [
        f"q: invalid PromQL at 1:{len(query) + 1}: unexpected end of input; fix the "
        "expression; it must be valid Prometheus PromQL"
    ]


@pytest.mark.parametrize(
    ("label", "hint"),
    [
        ("customer_id", "remove it; set spec.customerId"),
        ("severity", "remove it; the page alert is critical, the ticket alert warning"),
        ("category", "remove it; set spec.alerting.category"),
        ("urgency", "remove it"),
        ("slo", "remove it; alertplane sets it to spec.sloName"),
        ("slo_window", "remove it; alertplane sets it to each rule's window"),
        ("slo_severity", "remove it; alertplane sets it to page or ticket"),
    ],
)
def test_reserved_labels(label: str, hint: str) -> None:
    alerting = {"pageAlertName": "P", "ticketAlertName": "T", "labels": {label: "x"}}
    assert _checks(alerting=alerting) == [
        f"spec.alerting.labels.{label}: label {label!r} is set by alertplane; {hint}"
    ]


def test_alert_label_and_annotation_rules_on_their_fields() -> None:
    alerting = {
        "pageAlertName": "P",
        "ticketAlertName": "T",
        "labels": {"bad-name": "x"},
        "annotations": {"summary": '{{ define "x" }}y{{ end }}'},
    }
    assert _checks(alerting=alerting) == [
        "spec.alerting.labels.bad-name: 'bad-name' is not a valid label name; use letters, "
        "digits and '_', not starting with a digit or '__'",
        "spec.alerting.annotations.summary: templates may not define named templates "
        '({{ define }}/{{ block }}); inline the text, or use {{ template "name" . }} to call '
        "an existing one",
    ]


def test_description_is_an_annotation_template_checked_on_its_field() -> None:
    sneaky = '{{ with query "up" }}{{ . | first | value }}{{ end }}'
    (line,) = _checks(description=sneaky)
    assert line.startswith("spec.description: "), line
    assert 'has no customer_id="acme" matcher' in line, line


def test_queries_too_long_together() -> None:
    # Each query alone is within the parser's bound; their ratio is not.
    long = "x" * 8200
    error = f'sum(rate(e{{customer_id="acme", path="{long}"}}[{{{{.window}}}}]))'
    total = f'sum(rate(t{{customer_id="acme", path="{long}"}}[{{{{.window}}}}]))'

    assert _checks(sli={"events": {"errorQuery": error, "totalQuery": total}}) == [
        "spec.sli.events: the queries are too long together: their ratio has 16499 "
        "characters, at most 16384; shorten the queries, or record a part of them with a "
        "recording rule"
    ]


def test_a_recording_rule_may_not_record_an_slos_series() -> None:
    # The same series recorded twice makes promtool refuse the customer's whole file.
    from alertplane.model import CustomerRecordingRule
    from alertplane.validate.recording import check_recording_rule
    from tests.support.factories import recording_rule

    expr = 'sum(rate(x{customer_id="acme"}[5m]))'
    labels = {"slo": "checkout", "slo_window": "5m"}
    taken = recording_rule("acme", "slo:sli_error:ratio_rate5m", expr=expr, labels=labels)
    assert [
        p.text() for p in check_recording_rule(CustomerRecordingRule.model_validate(taken))
    ] == [
        "spec.labels.slo: label 'slo' on a record in the slo: namespace is reserved: "
        "CustomerSLO rules record these series; remove the label or rename the record; for "
        "an SLO's alerts use a CustomerSLO (docs/slo.md)"
    ]
    # Sloth's own output (sloth_* labels) and other names stay importable.
    sloth = recording_rule(
        "acme", "slo:sli_error:ratio_rate5m", expr=expr, labels={"sloth_slo": "x"}
    )
    other = recording_rule("acme", "job:slo:rate5m", expr=expr, labels=labels)
    for ok in (sloth, other):
        assert check_recording_rule(CustomerRecordingRule.model_validate(ok)) == []

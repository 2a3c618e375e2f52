"""The console's SLO form (console/slo_form.py): a spec survives the form both ways, and
every problem path of the SLO's checks lands on the field that shows it."""

from __future__ import annotations

from alertplane.console.slo_form import (
    budget_text,
    field_of,
    pin,
    pin_texts,
    spec_of,
    submitted,
    values_of,
)
from alertplane.errors import Problem
from alertplane.model.common import dump_spec
from alertplane.validate.slo import check_slo
from tests.support.slo import slo, slo_obj

FULL = slo(
    description="Checkout works",
    period="28d",
    autoInject=True,
    alerting={
        "pageAlertName": "Page",
        "ticketAlertName": "Ticket",
        "category": "infrastructure",
        "labels": {"team": "shop", "tier": "1"},
        "annotations": {
            "summary": "s",
            "runbookUrl": "https://r.example.com",
            "description": "d",
            "impact": "i",
        },
    },
)["spec"]


def test_a_spec_survives_the_form() -> None:
    form = values_of(FULL)
    spec, problems = spec_of(form)
    assert problems == []
    # The customer is the page's: the write function sets spec.customerId.
    assert spec == {k: v for k, v in {**FULL, "enabled": True}.items() if k != "customerId"}


def test_a_stored_spec_as_the_model_dumps_it() -> None:
    stored = dump_spec(slo_obj().spec)
    spec, problems = spec_of(values_of(stored))
    assert problems == []
    assert slo_obj(**spec).spec == slo_obj().spec


def test_the_name_is_the_pages_when_editing() -> None:
    spec, _ = spec_of({**values_of(FULL), "sloName": "other"}, "checkout")
    assert spec["sloName"] == "checkout"


def test_new_form_defaults() -> None:
    values = values_of(None)
    assert (values["enabled"], values["period"], values["category"]) == ("on", "30d", "application")
    assert values["autoInject"] == ""


def test_objective_typed_as_text_is_left_to_the_core() -> None:
    spec, _ = spec_of({**values_of(FULL), "objective": "lots"})
    assert spec["objective"] == "lots"


def test_bad_label_lines() -> None:
    _, problems = spec_of({**values_of(FULL), "labels": "team"})
    assert [p.text() for p in problems] == [
        "spec.alerting.labels: line 1: expected name=value; write one label per line, e.g. "
        "team=checkout"
    ]


def test_every_check_lands_on_a_field() -> None:
    paths = {
        "spec.sloName": "sloName",
        "spec.objective": "objective",
        "spec.period": "period",
        "spec.description": "description",
        "spec.sli.events": "errorQuery",
        "spec.sli.events.errorQuery": "errorQuery",
        "spec.sli.events.goodQuery": "goodQuery",
        "spec.sli.events.totalQuery": "totalQuery",
        "spec.alerting.pageAlertName": "pageAlertName",
        "spec.alerting.ticketAlertName": "ticketAlertName",
        "spec.alerting.category": "category",
        "spec.alerting.labels.slo": "labels",
        "spec.alerting.annotations.summary": "summary",
        "spec.alerting.annotations.runbookUrl": "runbookUrl",
        "spec.alerting.annotations.extra": "annotations",
        "spec.alerting.annotations.description": "annotations",
        "spec.autoInject": "autoInject",
    }
    assert {p: field_of(p) for p in paths} == paths
    assert field_of("metadata.name") is None
    found = check_slo(
        slo_obj(
            period="1d",
            alerting={"pageAlertName": "P", "ticketAlertName": "T", "labels": {"slo": "x"}},
        )
    )
    errors = pin(found)
    assert sorted(errors.fields) == ["labels", "period"]
    assert errors.general == []


def test_condition_message_split_back() -> None:
    errors = pin_texts(
        "spec.period: period '1d' is outside 7d to 90d; use 7d to 90d; "
        "spec.sli.events.totalQuery: selector x has no customer_id; add it"
    )
    assert sorted(errors.fields) == ["period", "totalQuery"]
    assert pin([Problem("", "general")]).general == ["general"]


def test_submitted_keeps_what_was_typed() -> None:
    out = submitted({"totalQuery": "a\r\nb", "enabled": "on", "autoInject": "x"})
    assert (out["totalQuery"], out["enabled"], out["autoInject"]) == ("a\nb", "on", "")


def test_budget_text() -> None:
    assert budget_text({"objective": 99.9}) == "0.1% over 30d"
    assert budget_text({"objective": 99.95, "period": "28d"}) == "0.05% over 28d"
    assert budget_text({"objective": "x"}) == ""

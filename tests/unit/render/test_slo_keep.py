"""What takes a rules file apart: a kept rule file (render/keep_rules.py) loses an SLO the
input disables or no longer holds — its whole group, recordings and alerts — and nothing
else (a plain alert named like the SLO's alert stays); the Mimir sink gets each SLO as one
whole rule group."""

from __future__ import annotations

from alertplane.model import CustomerAlert
from alertplane.render.keep_rules import prune_rules, wanted_alerts
from alertplane.render.mimir import rule_namespaces
from alertplane.render.rules import render_rules
from tests.support.factories import alert
from tests.support.slo import slo, slo_obj


def _previous() -> str:
    specs = [
        CustomerAlert.model_validate(alert("acme", "CheckoutBudgetBurn")).spec,
        slo_obj().spec,
    ]
    text = render_rules("acme", specs)
    assert text is not None
    return text


def _groups(text: str) -> list[str]:
    return [
        line.removeprefix("- name: ") for line in text.splitlines() if line.startswith("- name:")
    ]


def test_a_disabled_slo_leaves_with_its_whole_group() -> None:
    docs = [alert("acme", "CheckoutBudgetBurn"), slo(enabled=False)]
    wanted = wanted_alerts(docs, lambda d: d["spec"]["customerId"])["acme"]
    text, dropped = prune_rules(_previous(), wanted, "acme")
    assert dropped == ["checkout"]
    assert _groups(text) == ["acme-application"]
    assert "slo:" not in text and "alert: CheckoutBudgetBurn" in text


def test_a_removed_slo_leaves_and_an_enabled_one_stays() -> None:
    only_alert = wanted_alerts([alert("acme", "CheckoutBudgetBurn")], lambda d: "acme")["acme"]
    text, dropped = prune_rules(_previous(), only_alert, "acme")
    assert (dropped, _groups(text)) == (["checkout"], ["acme-application"])
    both = wanted_alerts([alert("acme", "CheckoutBudgetBurn"), slo()], lambda d: "acme")["acme"]
    assert prune_rules(_previous(), both, "acme") == (_previous(), [])


def test_the_alert_named_like_the_slos_alert_is_the_alerts() -> None:
    # The SLO is wanted, the plain alert of the same name is removed: only it leaves.
    wanted = wanted_alerts([slo()], lambda d: "acme")["acme"]
    text, dropped = prune_rules(_previous(), wanted, "acme")
    assert (dropped, _groups(text)) == (["CheckoutBudgetBurn"], ["acme-slo-checkout"])


def test_the_mimir_sink_gets_each_slo_as_one_whole_group() -> None:
    # Mimir's ruler: one namespace per group suffix; 13 rules fit its default 20 per
    # group, so the alerts stay in the group whose recordings they read.
    namespaces = rule_namespaces("acme", _previous())
    assert {n: [(g["name"], len(g["rules"])) for g in gs] for n, gs in namespaces.items()} == {
        "alertplane-application": [("acme-application", 1)],
        "alertplane-slo-checkout": [("acme-slo-checkout", 13)],
    }

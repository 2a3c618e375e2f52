"""A kept rule file (render/keep_rules.py) tells the alerts of a warning/critical pair
apart: disabling or removing one drops only that one's rule."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.manifests import claimed_customer
from alertplane.render.keep_rules import prune_rules, wanted_alerts
from alertplane.render.rules import render_rules
from alertplane.validate import parse_document
from tests.support.factories import alert

NAME = "FillingUp"


def _previous() -> str:
    specs = []
    for severity in ("warning", "critical"):
        obj, problems = parse_document(alert(alertName=NAME, severity=severity))
        assert obj is not None and not problems
        specs.append(obj.spec)
    text = render_rules("acme", specs)
    assert text is not None
    return text


def _kept(*docs: dict[str, Any]) -> tuple[list[str], list[str]]:
    wanted = wanted_alerts(docs, claimed_customer)["acme"]
    text, dropped = prune_rules(_previous(), wanted)
    rules = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
    return [r["labels"]["severity"] for r in rules], dropped


def test_disabling_one_alert_of_a_pair_drops_only_its_rule() -> None:
    on = alert(alertName=NAME, severity="critical")
    off = alert(name="Other", alertName=NAME, severity="warning", enabled=False)
    assert _kept(on, off) == (["critical"], [NAME])


def test_removing_one_alert_of_a_pair_keeps_its_last_rule() -> None:
    """The file cannot tell a removed partner from the same alert at a new severity (whose
    last good rule is what a kept file is for): both keep, as they did by name."""
    assert _kept(alert(alertName=NAME, severity="warning")) == (["critical", "warning"], [])


def test_removing_both_drops_both() -> None:
    assert _kept(alert(alertName="Other")) == ([], [NAME, NAME])


def test_both_wanted_keep_both() -> None:
    both = [alert(alertName=NAME, severity=s, name=s) for s in ("warning", "critical")]
    assert _kept(*both) == (["critical", "warning"], [])


def test_a_document_of_no_readable_severity_keeps_both_when_enabled() -> None:
    assert _kept(alert(alertName=NAME, severity=["?"])) == (["critical", "warning"], [])
    off = alert(alertName=NAME, severity=None, enabled=False)
    assert _kept(off) == ([], [NAME, NAME])

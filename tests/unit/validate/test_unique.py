"""Names that must be unique: the later object by input order is the duplicate.

So appending a file never changes which of the existing objects stays valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.admission import WRITE, Taken, admit
from alertplane.cli import main
from alertplane.core import evaluate, render_valid
from alertplane.errors import ObjectRef, Source
from alertplane.manifests import Document, load_text
from alertplane.render.platform import PlatformConfig
from tests.support.factories import alert, receiver
from tests.support.problems import lines

A = "CustomerAlert acme/acme-higherrorrate: "
R = "CustomerReceiver acme/acme-oncall: "
CHOOSE = "choose another name or remove one of the two"
CHOOSE_ALERT = (
    "choose another name, or another severity (a warning/critical pair may share the name), "
    "or remove one of the two"
)


def test_duplicate_alert_name_reports_the_later_object() -> None:
    first = alert(name="HighErrorRate")
    second = alert(name="Other", alertName="HighErrorRate")
    assert lines(first, second) == [
        "CustomerAlert acme/acme-other: spec.alertName: customer 'acme' already has alert "
        "'HighErrorRate' at severity 'critical' (CustomerAlert acme/acme-higherrorrate); "
        + CHOOSE_ALERT
    ]
    assert lines(second, first) == [
        A + "spec.alertName: customer 'acme' already has alert 'HighErrorRate' at severity "
        f"'critical' (CustomerAlert acme/acme-other); {CHOOSE_ALERT}"
    ]


def test_duplicate_receiver_name_reports_the_later_object() -> None:
    first = receiver(name="oncall")
    second = receiver(name="pager", receiverName="oncall")
    assert lines(first, second) == [
        "CustomerReceiver acme/acme-pager: spec.receiverName: customer 'acme' already has "
        f"receiver 'oncall' (CustomerReceiver acme/acme-oncall); {CHOOSE}"
    ]
    assert lines(second, first) == [
        R + "spec.receiverName: customer 'acme' already has receiver 'oncall' "
        f"(CustomerReceiver acme/acme-pager); {CHOOSE}"
    ]


def test_duplicates_across_files_follow_the_order_of_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(alert(name="Other", alertName="X")))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(alert(name="Mine", alertName="X")))
    assert main(["validate", "--no-tools", "-f", str(tmp_path)]) == 1
    assert capsys.readouterr().out == (
        f"{tmp_path / 'b.yaml'}:7:3: "  # where the field is: spec.alertName of the later one
        "CustomerAlert acme/acme-mine: spec.alertName: customer 'acme' already has alert 'X' "
        f"at severity 'critical' (CustomerAlert acme/acme-other); {CHOOSE_ALERT}\n"
    )
    order = ["-f", str(tmp_path / "b.yaml"), "-f", str(tmp_path / "a.yaml")]
    assert main(["validate", "--no-tools", *order]) == 1
    assert f"{tmp_path / 'a.yaml'}:7:3: CustomerAlert acme/acme-other: spec.alertName:" in (
        capsys.readouterr().out
    )


def test_a_duplicate_counts_even_when_disabled() -> None:
    second = alert(name="Other", alertName="HighErrorRate", enabled=False)
    assert len(lines(alert(), second)) == 1


def test_the_same_names_in_two_customers_are_fine() -> None:
    docs = [alert("acme"), alert("globex"), receiver("acme"), receiver("globex")]
    assert lines(*docs) == []


def test_an_alert_and_a_receiver_may_share_a_name() -> None:
    assert lines(alert(name="oncall"), receiver(name="oncall")) == []


def test_the_same_object_twice_is_named_with_where_it_was_first() -> None:
    assert lines(alert(), alert(severity="info")) == [
        A + "metadata.name: CustomerAlert acme/acme-higherrorrate is defined twice (first at "
        "t.yaml:1 (document 1)); give each object its own metadata.name"
    ]
    assert lines(receiver(), receiver()) == [
        R + "metadata.name: CustomerReceiver acme/acme-oncall is defined twice (first at "
        "t.yaml:1 (document 1)); give each object its own metadata.name"
    ]


def test_the_same_name_in_two_namespaces_is_two_objects() -> None:
    other = alert(name="Other")
    other["metadata"] = {"name": "acme-higherrorrate", "namespace": "team-b"}
    assert lines(alert(), other) == []


def test_the_first_of_two_same_named_objects_is_still_rendered() -> None:
    loaded = load_text(yaml.safe_dump_all([alert(), alert(severity="info")]))
    outcome = evaluate(loaded.documents, tools=False)
    assert len(outcome.problems) == 1
    assert [obj.metadata.name for obj in outcome.valid] == ["acme-higherrorrate"]


def test_a_warning_critical_pair_may_share_the_alert_name() -> None:
    """The upstream idiom (NodeFilesystemSpaceFillingUp at warning and at critical)."""
    warning = alert(name="Warn", alertName="FillingUp", severity="warning")
    critical = alert(name="Crit", alertName="FillingUp", severity="critical")
    info = alert(name="Info", alertName="FillingUp", severity="info")
    assert lines(warning, critical, info) == []


def test_a_pair_member_twice_is_the_duplicate_naming_its_severity() -> None:
    warning = alert(name="Warn", alertName="FillingUp", severity="warning")
    critical = alert(name="Crit", alertName="FillingUp", severity="critical")
    again = alert(name="Again", alertName="FillingUp", severity="warning")
    assert lines(warning, critical, again) == [
        "CustomerAlert acme/acme-again: spec.alertName: customer 'acme' already has alert "
        f"'FillingUp' at severity 'warning' (CustomerAlert acme/acme-warn); {CHOOSE_ALERT}"
    ]


def test_a_pair_renders_both_rules_in_a_stable_order() -> None:
    warning = alert(name="Warn", alertName="FillingUp", severity="warning")
    critical = alert(name="Crit", alertName="FillingUp", severity="critical")
    orders = []
    for docs in ([warning, critical], [critical, warning]):
        outcome = evaluate(load_text(yaml.safe_dump_all(docs)).documents, tools=False)
        assert outcome.problems == []
        orders.append(render_valid(outcome, PlatformConfig()).rules["rules/acme.yml"])
    assert orders[0] == orders[1]
    rules = yaml.safe_load(orders[0])["groups"][0]["rules"]
    assert [(r["alert"], r["labels"]["severity"]) for r in rules] == [
        ("FillingUp", "critical"),
        ("FillingUp", "warning"),
    ]


def _admitted_next_to(stored: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """What the webhook, /import and the API decide for `doc` with `stored` in the store
    (admission.Taken: the objects already there)."""
    existing = Taken.of(
        ObjectRef("CustomerAlert", "acme", stored["metadata"]["name"]), "acme", stored["spec"]
    )
    assert existing is not None
    admission = admit([Document(Source("admission"), doc)], WRITE, existing=[existing])
    return [str(p) for p in admission.refused]


def test_admission_next_to_stored_objects_takes_a_pair_and_refuses_a_twin() -> None:
    warning = alert(name="Warn", alertName="FillingUp", severity="warning")
    critical = alert(name="Crit", alertName="FillingUp", severity="critical")
    assert _admitted_next_to(warning, critical) == []
    twin = alert(name="Twin", alertName="FillingUp", severity="warning")
    assert _admitted_next_to(warning, twin) == [
        "CustomerAlert acme/acme-twin: spec.alertName: customer 'acme' already has alert "
        f"'FillingUp' at severity 'warning' (CustomerAlert acme/acme-warn); {CHOOSE_ALERT}"
    ]
    # The stored object itself, changed to another severity, is no duplicate of itself.
    assert _admitted_next_to(warning, {**warning, "spec": critical["spec"]}) == []

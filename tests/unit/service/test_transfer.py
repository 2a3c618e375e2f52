"""Many objects at once: the dry run, the all-or-nothing import, the export."""

from __future__ import annotations

import json

import pytest

from alertplane.errors import Forbidden
from alertplane.service import transfer
from alertplane.service.context import Context
from tests.support.factories import alert
from tests.unit.service.conftest import ACME, ADMIN

JSON = "application/json"


def body(*docs: dict[str, object]) -> bytes:
    return json.dumps(list(docs)).encode()


def test_json_and_yaml_bodies_load_alike_with_the_customer_s_namespace(ctx: Context) -> None:
    doc = alert()
    del doc["metadata"]["namespace"]
    as_json = transfer.load_body(body(doc), "application/json", lambda c: f"ns-{c}")
    as_yaml = transfer.load_body(json.dumps(doc).encode(), "application/yaml")
    assert as_json.documents[0].data["metadata"]["namespace"] == "ns-acme"
    assert as_yaml.documents[0].data["metadata"]["namespace"] == "acme"
    assert transfer.load_body(b"\xff", "application/json").problems[0].message == (
        "the body is not UTF-8 text"
    )


def test_a_customer_token_may_not_send_another_customer_s_documents(ctx: Context) -> None:
    loaded = transfer.load_body(body(alert("globex")), "application/json")
    with pytest.raises(Forbidden) as refused:
        transfer.check(ctx, ACME, loaded, tools=False)
    assert [p.path for p in refused.value.problems] == ["spec.customerId"]
    with pytest.raises(Forbidden):
        transfer.import_objects(ctx, ACME, loaded, tools=False)


def test_import_is_all_or_nothing(ctx: Context) -> None:
    bad = alert(name="Broken", severity="loud")
    loaded = transfer.load_body(body(alert(), bad), "application/json")
    report = transfer.import_objects(ctx, ADMIN, loaded, tools=False)
    assert not report.applied and report.changes == []
    assert [p.path for p in report.problems] == ["spec.severity"]
    assert transfer.export(ctx, ADMIN, None) == []

    report = transfer.import_objects(ctx, ADMIN, transfer.load_body(body(alert()), JSON), False)
    assert report.applied
    assert [(c["name"], c["action"]) for c in report.changes] == [("acme-higherrorrate", "created")]
    (exported,) = transfer.export(ctx, ACME, None)
    assert "generation" not in exported["metadata"] and "status" not in exported


def test_the_dry_run_counts_the_names_already_stored(ctx: Context) -> None:
    transfer.import_objects(ctx, ADMIN, transfer.load_body(body(alert()), JSON), tools=False)
    twin = alert()
    twin["metadata"]["name"] = "acme-another-name"
    outcome = transfer.check(ctx, ADMIN, transfer.load_body(body(twin), JSON), tools=False)
    assert not outcome.ok
    assert "already has alert 'HighErrorRate'" in outcome.problems[0].message

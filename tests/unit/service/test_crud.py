"""CRUD through the service on a real (SQLite) store: the same calls the API and the
console make, answered with the domain's refusals, never an HTTP error."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.errors import Conflict, Invalid, NotFound, PreconditionFailed
from alertplane.service import crud
from alertplane.service.access import Access
from alertplane.service.context import Context
from alertplane.service.objects import ALERT
from tests.unit.service.conftest import ADMIN, GLOBEX


def spec(name: str = "HighErrorRate", **over: Any) -> dict[str, Any]:
    return {
        "alertName": name,
        "category": "application",
        "severity": "critical",
        "expr": 'rate(errors_total{customer_id="acme"}[5m]) > 1',
        **over,
    }


def test_create_read_update_delete(ctx: Context, acme: Access) -> None:
    out = crud.create(ctx, acme, ALERT, spec())
    assert out["metadata"] == {
        "name": "acme-higherrorrate",
        "namespace": "acme",
        "generation": 1,
        "labels": {},
    }
    assert out["status"]["phase"] == "Pending"  # no reconciler has looked yet
    assert [o["spec"]["alertName"] for o in crud.list_objects(ctx, acme, ALERT)] == [
        "HighErrorRate"
    ]
    updated = crud.update(ctx, acme, ALERT, "HighErrorRate", spec(severity="warning"))
    assert (updated["metadata"]["generation"], updated["spec"]["severity"]) == (2, "warning")
    crud.delete(ctx, acme, ALERT, "HighErrorRate")
    with pytest.raises(NotFound, match="alert not found"):
        crud.get_object(ctx, acme, ALERT, "HighErrorRate")


def test_refusals_are_domain_errors(ctx: Context, acme: Access) -> None:
    with pytest.raises(Invalid) as invalid:
        crud.create(ctx, acme, ALERT, spec(severity="loud"))
    assert [p.path for p in invalid.value.problems] == ["spec.severity"]
    crud.create(ctx, acme, ALERT, spec())
    with pytest.raises(Conflict, match="already exists"):
        crud.create(ctx, acme, ALERT, spec())
    with pytest.raises(PreconditionFailed) as stale:
        crud.update(ctx, acme, ALERT, "HighErrorRate", spec(), if_match=7)
    assert stale.value.current_generation == 1


def test_disabling_needs_only_a_schema_valid_spec(ctx: Context, acme: Access) -> None:
    crud.create(ctx, acme, ALERT, spec())
    out = crud.set_enabled(ctx, acme, "HighErrorRate", False)
    assert out["spec"]["enabled"] is False
    assert out["metadata"]["generation"] == 2


def test_rollback_restores_an_earlier_version(ctx: Context, acme: Access) -> None:
    crud.create(ctx, acme, ALERT, spec())
    crud.update(ctx, acme, ALERT, "HighErrorRate", spec(severity="warning"))
    out = crud.rollback(ctx, acme, ALERT, "HighErrorRate", 1)
    assert (out["metadata"]["generation"], out["spec"]["severity"]) == (3, "critical")
    trail = [(e["action"], e["generation"], e["source"]) for e in crud.audit(ctx, acme, None, 10)]
    assert trail == [("create", 1, "api"), ("update", 2, "api"), ("rollback", 3, "rollback")]


def test_another_customer_is_not_found_and_unknown_customers_are_too(
    ctx: Context, acme: Access
) -> None:
    crud.create(ctx, acme, ALERT, spec())
    with pytest.raises(NotFound, match="customer not found"):
        crud.list_objects(ctx, Access(GLOBEX, "initech"), ALERT)
    with pytest.raises(NotFound, match="customer not found"):
        crud.list_objects(ctx, Access(ADMIN, "initech"), ALERT)
    assert crud.list_objects(ctx, Access(GLOBEX, "globex"), ALERT) == []  # its own: empty


def test_an_audit_of_a_name_no_object_can_have_is_empty(ctx: Context, acme: Access) -> None:
    crud.create(ctx, acme, ALERT, spec())
    assert crud.audit(ctx, acme, "bad\x00name", 10) == []


def test_the_console_s_twin_records_its_own_source(ctx: Context, acme: Access) -> None:
    crud.create(ctx.sourced("console"), acme, ALERT, spec())
    (entry,) = crud.audit(ctx, acme, None, 10)
    assert (entry["source"], entry["actor"]) == ("console", "acme-ci")

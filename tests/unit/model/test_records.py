"""The domain records: the one DESIGN status shape and the one time format."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from alertplane.errors import ObjectRef
from alertplane.model.records import (
    ObjectRecord,
    ObjectStatus,
    format_time,
    parse_time,
)

REF = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
WHEN = datetime(2026, 12, 7, 8, 30, 5, tzinfo=UTC)
CONDITIONS = [
    {"type": "Valid", "status": "True", "reason": "Validated", "message": "",
     "lastTransitionTime": "2026-12-07T08:30:05Z"},
    {"type": "Synced", "status": "True", "reason": "Reloaded", "message": "",
     "lastTransitionTime": "2026-12-07T08:30:05Z"},
]  # fmt: skip


def record(generation: int = 1, status: ObjectStatus | None = None) -> ObjectRecord:
    spec = {"customerId": "acme", "alertName": "HighErrorRate"}
    return ObjectRecord(REF, 1, "acme", generation, {}, spec, status)


def test_one_time_format_round_trips() -> None:
    assert format_time(WHEN) == "2026-12-07T08:30:05Z"
    assert parse_time(format_time(WHEN)) == WHEN
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert parse_time(format_time()) is not None  # now


def test_to_design_is_the_design_status_shape() -> None:
    status = ObjectStatus.of("Synced", 1, CONDITIONS, ["rules/acme.yml"], WHEN)
    assert status.to_design() == {
        "observedGeneration": 1,
        "phase": "Synced",
        "conditions": CONDITIONS,
        "renderedTo": ["rules/acme.yml"],
        "lastSyncTime": "2026-12-07T08:30:05Z",
    }
    assert status.to_design(lambda rel: f"cm/{rel}")["renderedTo"] == ["cm/rules/acme.yml"]
    assert "lastSyncTime" not in ObjectStatus().to_design()
    assert ObjectStatus.from_design(status.to_design()) == status


def test_a_status_older_than_the_spec_reads_pending() -> None:
    synced = ObjectStatus.of("Synced", 1, CONDITIONS)
    assert record(1, synced).view()["status"]["phase"] == "Synced"
    assert record(2, synced).view()["status"]["phase"] == "Pending"
    assert record(1, synced).settled() and not record(2, synced).settled()
    assert record(1).view()["status"] == {
        "observedGeneration": 0, "phase": "Pending", "conditions": [], "renderedTo": []
    }  # fmt: skip


def test_a_manifest_reads_back_as_the_same_record() -> None:
    status = ObjectStatus.of("Synced", 1, CONDITIONS, ["rules/acme.yml"], WHEN)
    original = record(1, status)
    assert ObjectRecord.from_manifest(original.manifest(), serial=1) == original


def test_records_are_compact() -> None:
    assert not hasattr(record(), "__dict__") and not hasattr(ObjectStatus(), "__dict__")
    a, b = ObjectStatus.of("Synced", 1, CONDITIONS), ObjectStatus.of("Synced", 1, CONDITIONS)
    # Packed conditions share their (interned) strings across objects.
    assert a.packed_conditions[0][4] is b.packed_conditions[0][4]
    assert sys.getsizeof(record()) <= 120

"""Database rows ↔ domain records: the only code that knows both shapes.

A status field added to `model.records.ObjectStatus` is mapped here (and given a column
in tables.py with its migration); nothing else changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ..errors import ObjectRef
from ..model.records import ObjectRecord, ObjectStatus
from .tables import ObjectRow, StatusRow

OBJECT_KEYS = tuple(c.key for c in ObjectRow.__mapper__.column_attrs)
STATUS_KEYS = tuple(c.key for c in StatusRow.__mapper__.column_attrs)


def record_of(found: Row[Any]) -> ObjectRecord:
    """The record of one `writes.with_status()` result row (objects ⟕ status)."""
    v = found._mapping
    status = None
    if v["status_object_id"] is not None:
        status = ObjectStatus.of(
            phase=v["status_phase"],
            observed_generation=v["status_observed_generation"],
            conditions=v["status_conditions"],
            rendered_to=v["status_rendered_to"],
            last_sync_time=v["status_last_sync_time"],
            live_generation=v["status_live_generation"],
            live_spec=v["status_live_spec"],
        )
    return ObjectRecord(
        ref=ObjectRef(v["kind"], v["namespace"], v["name"]),
        serial=v["id"],
        customer_id=v["customer_id"],
        generation=v["generation"],
        labels=v["labels"],
        spec=v["spec"],
        status=status,
        created_at=v["created_at"],
    )


def status_columns(status: ObjectStatus) -> dict[str, Any]:
    """The status table's columns (but its key) of a status; without a live version,
    none: the row keeps the one it has (model.records.Concluded)."""
    columns: dict[str, Any] = {
        "phase": status.phase,
        "observed_generation": status.observed_generation,
        "conditions": status.conditions,
        "rendered_to": list(status.rendered_to),
        "last_sync_time": status.last_sync_time,
    }
    if status.live_generation is not None:
        columns.update(live_generation=status.live_generation, live_spec=status.live_spec)
    return columns

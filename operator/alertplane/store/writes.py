"""The statements behind `Store`'s writes and lookups, in SQLAlchemy Core.

Why Core and not ORM objects: an API create is one lookup, three inserts and a commit,
and the ORM's unit of work (identity map, flush ordering, attribute instrumentation) cost
more CPU than the statements themselves — measured at 1.7 ms of 2.6 ms per create, on a
server that is CPU-bound under concurrent writes (benchmarks/README.md, REST API). The
statements and their order are the ones the ORM emitted, so behaviour (including
IntegrityError on a concurrent duplicate) is unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from ..errors import ObjectRef
from ..model import NAME_FIELDS
from ..model.records import utcnow
from ..model.secrets import redact
from .tables import AuditRow, ObjectRow, StatusRow

OBJECTS = cast(Table, ObjectRow.__table__)
STATUS = cast(Table, StatusRow.__table__)
AUDIT = cast(Table, AuditRow.__table__)
# What a lookup needs to build a record (objects outer-joined with their status).
_OBJECT_COLUMNS = [OBJECTS.c[c.key] for c in ObjectRow.__mapper__.column_attrs]
_STATUS_COLUMNS = [
    STATUS.c[c.key].label(f"status_{c.key}") for c in StatusRow.__mapper__.column_attrs
]


# Statements built once with bound parameters: building and cache-keying a statement per
# call was a third of the remaining CPU of a write.
_REF = (
    (OBJECTS.c.kind == bindparam("kind"))
    & (OBJECTS.c.namespace == bindparam("namespace"))
    & (OBJECTS.c.name == bindparam("name"))
)
_CURRENT = select(
    OBJECTS.c.id, OBJECTS.c.generation, OBJECTS.c.customer_id, OBJECTS.c.labels, OBJECTS.c.spec
).where(_REF)
# A write reads the object under its row lock (PostgreSQL; SQLite ignores FOR UPDATE and
# holds the database's writer lock instead, see txn.py).
_CURRENT_LOCKED = _CURRENT.with_for_update()
_INSERT_OBJECT = insert(OBJECTS)
_INSERT_STATUS = insert(STATUS)
_INSERT_AUDIT = insert(AUDIT)
# Conditional on the generation the writer read: a change is never made to another one.
_AT = (OBJECTS.c.id == bindparam("object_id_")) & (OBJECTS.c.generation == bindparam("read_"))
_UPDATE_OBJECT = update(OBJECTS).where(_AT)
_DELETE_OBJECT = delete(OBJECTS).where(_AT)
_DELETE_STATUS = delete(STATUS).where(STATUS.c.object_id == bindparam("object_id_"))
_AUDIT_REF = (
    (AUDIT.c.kind == bindparam("kind"))
    & (AUDIT.c.namespace == bindparam("namespace"))
    & (AUDIT.c.name == bindparam("name"))
)
# Where the object's current life began: its newest create. An object deleted and created
# again (also: moved to another customer, which is exactly that) has a fresh history;
# the versions of its earlier life, maybe another customer's, are not its versions.
_BORN = (
    select(func.coalesce(func.max(AUDIT.c.id), 0))
    .where(_AUDIT_REF, AUDIT.c.action == "create")
    .scalar_subquery()
)
_VERSION = (
    select(AUDIT.c.after)
    .where(
        _AUDIT_REF,
        AUDIT.c.generation == bindparam("generation"),
        AUDIT.c.after.is_not(None),
        AUDIT.c.id >= _BORN,
    )
    .order_by(AUDIT.c.id.desc())
    .limit(1)
)


def ref_params(ref: ObjectRef) -> dict[str, str]:
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def identity(ref: ObjectRef) -> ColumnElement[bool]:
    return (
        (OBJECTS.c.kind == ref.kind)
        & (OBJECTS.c.namespace == ref.namespace)
        & (OBJECTS.c.name == ref.name)
    )


def with_status() -> Select[Any]:
    """objects ⟕ status, every column (status columns prefixed `status_`)."""
    return select(*_OBJECT_COLUMNS, *_STATUS_COLUMNS).select_from(
        OBJECTS.outerjoin(STATUS, STATUS.c.object_id == OBJECTS.c.id)
    )


def _named_or_at(key: str) -> Select[Any]:
    spec_name = OBJECTS.c.spec[key].as_string()
    return (
        with_status()
        .where(
            OBJECTS.c.kind == bindparam("kind"),
            (
                (OBJECTS.c.customer_id == bindparam("customer"))
                & (spec_name == bindparam("spec_name"))
            )
            | (
                (OBJECTS.c.namespace == bindparam("namespace"))
                & (OBJECTS.c.name == bindparam("name"))
            ),
        )
        .order_by(OBJECTS.c.id)
    )


# kind → objects of a customer with that spec name, or at that identity (see
# Store.find_named_or_at).
NAMED_OR_AT = {kind: _named_or_at(field) for kind, field in NAME_FIELDS.items()}


def current(conn: Connection, ref: ObjectRef) -> Any:
    """The stored object's row (id, generation, customer_id, labels, spec: what a write
    compares), or None; locked for the rest of the transaction (a write's read)."""
    return conn.execute(_CURRENT_LOCKED, ref_params(ref)).first()


def insert_object(
    conn: Connection, ref: ObjectRef, customer: str, labels: dict[str, str], spec: dict[str, Any]
) -> int:
    """A new object (generation 1) and its Pending status; its id."""
    now = utcnow()
    values = {
        **ref_params(ref),
        "customer_id": customer,
        "generation": 1,
        "labels": labels,
        "spec": spec,
        "created_at": now,
        "updated_at": now,
    }
    key = conn.execute(_INSERT_OBJECT, values).inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    object_id = int(key[0])
    status = {
        "object_id": object_id,
        "phase": "Pending",
        "observed_generation": 0,
        "conditions": [],
        "rendered_to": [],
    }
    conn.execute(_INSERT_STATUS, status)
    return object_id


def update_object(conn: Connection, object_id: int, read: int, **values: Any) -> bool:
    """Update the object if it is still at generation `read`; whether it was."""
    params = {**values, "updated_at": utcnow(), "object_id_": object_id, "read_": read}
    return conn.execute(_UPDATE_OBJECT, params).rowcount == 1


def delete_object(conn: Connection, object_id: int, read: int) -> bool:
    """Delete the object (and its status) if it is still at generation `read`; whether it
    was."""
    if conn.execute(_DELETE_OBJECT, {"object_id_": object_id, "read_": read}).rowcount != 1:
        return False
    conn.execute(_DELETE_STATUS, {"object_id_": object_id})
    return True


def audit(
    conn: Connection,
    action: str,
    ref: ObjectRef,
    customer: str,
    generation: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str,
    source: str,
) -> None:
    values = {
        **ref_params(ref),
        "time": utcnow(),
        "action": action,
        "customer_id": customer,
        "generation": generation,
        "before": redact(before),
        "after": redact(after),
        "actor": actor,
        "source": source,
    }
    conn.execute(_INSERT_AUDIT, values)


def version(conn: Connection, ref: ObjectRef, generation: int) -> dict[str, Any] | None:
    """The spec an object had at `generation` (the newest audit row that wrote it)."""
    found: dict[str, Any] | None = conn.execute(
        _VERSION, {**ref_params(ref), "generation": generation}
    ).scalar()
    return found


def audit_action(before: dict[str, Any], after: dict[str, Any]) -> str:
    """enable/disable when that is the only change, else update: the audit reads naturally."""
    if {k: v for k, v in before.items() if k != "enabled"} == {
        k: v for k, v in after.items() if k != "enabled"
    } and before.get("enabled", True) != after.get("enabled", True):
        return "enable" if after.get("enabled", True) else "disable"
    return "update"

"""Tables. The audit log doubles as the version history that rollback reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..model.records import utcnow


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ObjectRow(Base):
    """The desired state of one CustomerAlert/CustomerReceiver (spec never holds secrets)."""

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("kind", "namespace", "name", name="uq_objects_identity"),
        Index("ix_objects_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    customer_id: Mapped[str] = mapped_column(String(63))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StatusRow(Base):
    """What the reconciler last concluded about an object, and what of it is live."""

    __tablename__ = "status"

    object_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    rendered_to: Mapped[list[Any]] = mapped_column(default=list)
    last_sync_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last valid spec and its generation: what stays live while a newer one is invalid.
    live_generation: Mapped[int | None] = mapped_column(Integer)
    live_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditRow(Base):
    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_object", "kind", "namespace", "name"),
        Index("ix_audit_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(16))  # create update delete enable disable rollback
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(253))
    customer_id: Mapped[str] = mapped_column(String(63))
    generation: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(253))
    source: Mapped[str] = mapped_column(String(32))  # cli api kubectl import rollback


class SyncRunRow(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    customers: Mapped[list[Any]] = mapped_column(default=list)
    outcome: Mapped[str] = mapped_column(String(16))  # ok invalid write_failed reload_failed
    files_written: Mapped[int] = mapped_column(Integer, default=0)
    reloads: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")

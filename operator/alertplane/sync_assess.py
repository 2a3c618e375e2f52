"""What one sync concludes about each object before writing: which version of it is
rendered (its newest valid spec, its last valid one, or none) and what its status says.

An invalid edit keeps the last valid version live only while the object exists and is
enabled: an alert that its newest spec disables renders nothing, however invalid the
rest of that spec is (disabling must take effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import ObjectRef, Problem
from .importer.templated import readmitted
from .model import Resource
from .model.kinds import BY_KIND, enabled, renders_rules
from .model.records import Condition, ObjectRecord
from .render import ALERTMANAGER_PATH
from .render.rules import rules_path
from .validate import parse_document

__all__ = ["Assessment", "assess", "live_version", "readmitted"]


def live_version(st: ObjectRecord) -> Resource | None:
    """The last valid version of an object whose newest spec is invalid, while the
    object wants to be live: an alert disabled by its newest spec has none, however
    invalid the rest of that spec is (disabling must take effect)."""
    if st.status is None or st.status.live_spec is None or _disabled(st):
        return None
    manifest = st.manifest(spec=st.status.live_spec, with_status=False, redacted=False)
    obj, _ = parse_document(manifest)
    return obj


@dataclass(frozen=True)
class Assessment:
    """What a sync concluded about one object before writing: all its status needs."""

    ref: ObjectRef
    serial: int
    kind: str
    customer_id: str
    generation: int
    # Of the previous status only what the new one takes over (not the whole record: a
    # full sync holds every object's assessment at once).
    conditions: tuple[Condition, ...]
    last_sync_time: datetime | None
    problems: str | None  # None when valid
    spec: dict[str, Any] | None  # the spec that becomes live when valid
    live_generation: int | None
    rendered_to: tuple[str, ...]
    disabled: bool


def _disabled(st: ObjectRecord) -> bool:
    """Whether the newest spec disables the object, valid or not (receivers have no switch)."""
    known = BY_KIND.get(st.kind)
    return known is not None and known.toggles and st.spec.get("enabled") is False


def assess(st: ObjectRecord, problems: list[Problem] | None, live: Resource | None) -> Assessment:
    """`live` is the object rendered for `st`: its current spec, its last valid one, or
    None (nothing of it is rendered)."""
    if problems:
        rendered = st.status.live_generation if st.status and live is not None else None
    else:
        rendered = st.generation
    return Assessment(
        ref=st.ref,
        serial=st.serial,
        kind=st.kind,
        customer_id=st.customer_id,
        generation=st.generation,
        conditions=st.status.packed_conditions if st.status else (),
        last_sync_time=st.status.last_sync_time if st.status else None,
        problems="; ".join(p.text() for p in problems) if problems else None,
        spec=None if problems else st.spec,
        live_generation=rendered,
        rendered_to=_rendered_to(live, st.customer_id),
        disabled=_disabled(st),
    )


def _rendered_to(obj: Resource | None, customer_id: str) -> tuple[str, ...]:
    if obj is None:
        return ()
    if renders_rules(obj.kind):
        return (rules_path(customer_id),) if enabled(obj) else ()
    return (ALERTMANAGER_PATH,)

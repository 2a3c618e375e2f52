"""What one sync concludes about each object before writing: which version of it is
rendered (its newest valid spec, its last valid one, or none) and what its status says.

An invalid edit keeps the last valid version live only while the object exists and is
enabled: an alert that its newest spec disables renders nothing, however invalid the
rest of that spec is (disabling must take effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Problem
from .model import CustomerAlert, Resource
from .render import ALERTMANAGER_PATH
from .render.rules import rules_path
from .store.repo import Stored
from .validate import parse_document


def live_version(st: Stored) -> Resource | None:
    """The last valid version of an object whose newest spec is invalid, while the
    object wants to be live: an alert disabled by its newest spec has none, however
    invalid the rest of that spec is (disabling must take effect)."""
    if st.status is None or st.status.live_spec is None or _disabled(st):
        return None
    obj, _ = parse_document(st.manifest(spec=st.status.live_spec, with_status=False))
    return obj


@dataclass(frozen=True)
class Assessment:
    """What a sync concluded about one object before writing: all its status needs."""

    object_id: int
    kind: str
    customer_id: str
    generation: int
    conditions: list[Any]  # the previous conditions, to keep transition times
    problems: str | None  # None when valid
    spec: dict[str, Any] | None  # the spec that becomes live when valid
    live_generation: int | None
    rendered_to: tuple[str, ...]
    disabled: bool


def _disabled(st: Stored) -> bool:
    """Whether the newest spec disables the alert, valid or not (receivers have no switch)."""
    return st.row.kind == "CustomerAlert" and st.row.spec.get("enabled") is False


def assess(st: Stored, problems: list[Problem] | None, live: Resource | None) -> Assessment:
    """`live` is the object rendered for `st`: its current spec, its last valid one, or
    None (nothing of it is rendered)."""
    if problems:
        rendered = st.status.live_generation if st.status and live is not None else None
    else:
        rendered = st.row.generation
    return Assessment(
        object_id=st.row.id,
        kind=st.row.kind,
        customer_id=st.row.customer_id,
        generation=st.row.generation,
        conditions=st.status.conditions if st.status else [],
        problems="; ".join(p.text() for p in problems) if problems else None,
        spec=None if problems else st.row.spec,
        live_generation=rendered,
        rendered_to=_rendered_to(live, st.row.customer_id),
        disabled=_disabled(st),
    )


def _rendered_to(obj: Resource | None, customer_id: str) -> tuple[str, ...]:
    if obj is None:
        return ()
    if isinstance(obj, CustomerAlert):
        return (rules_path(customer_id),) if obj.spec.enabled else ()
    return (ALERTMANAGER_PATH,)

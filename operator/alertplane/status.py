"""Status of an object after a sync, in the DESIGN shape (phase + Valid/Synced conditions).

Pure: the reconciler decides what happened, this turns it into conditions, keeping
lastTransitionTime when a condition did not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .model.records import Condition, ObjectStatus, format_time


@dataclass(frozen=True)
class Verdict:
    generation: int
    valid: bool
    problems: str = ""  # "; "-joined field problems when invalid
    live_generation: int | None = None  # generation rendered (may be older when invalid)
    synced: bool = False
    # Reloaded Pending ReloadFailed Rejected WriteFailed Superseded Written Disabled
    sync_reason: str = "Pending"
    sync_message: str = ""
    disabled: bool = False
    rendered_to: tuple[str, ...] = ()


def phase_of(v: Verdict) -> str:
    if not v.valid:
        return "Invalid"
    if v.sync_reason in ("ReloadFailed", "Rejected", "WriteFailed"):
        return "Failed"
    if not v.synced:
        return "Pending"
    return "Disabled" if v.disabled else "Synced"


def conditions(v: Verdict, previous: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    stamp = format_time(now)
    before = {c.get("type"): c for c in previous if isinstance(c, dict)}
    valid = ("True", "Validated", "") if v.valid else ("False", "Invalid", v.problems)
    synced = ("True" if v.synced else "False", v.sync_reason, v.sync_message)
    out = []
    for kind, (status, reason, message) in (("Valid", valid), ("Synced", synced)):
        old = before.get(kind)
        changed = old is None or old.get("status") != status
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": stamp
                if changed or old is None
                else old.get("lastTransitionTime", stamp),
            }
        )
    return out


def concluded(
    v: Verdict,
    previous: tuple[Condition, ...],
    last_sync_time: datetime | None,
    now: datetime,
    live: tuple[int, dict[str, Any]] | None,
) -> ObjectStatus:
    """The status after a sync, from the previous conditions (their transition times are
    kept) and time of the last successful sync (kept unless this one synced). `live`
    (generation, spec) becomes the live version; None: the source keeps the one it has
    (model.records.Concluded)."""
    before = ObjectStatus(packed_conditions=previous).conditions
    live_generation, live_spec = live or (None, None)
    return ObjectStatus.of(
        phase=phase_of(v),
        observed_generation=v.generation,
        conditions=conditions(v, before, now),
        rendered_to=v.rendered_to,
        last_sync_time=now if v.synced else last_sync_time,
        live_generation=live_generation,
        live_spec=live_spec,
    )

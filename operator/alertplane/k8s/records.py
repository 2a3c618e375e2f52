"""Compaction and comparison helpers for the cluster state's records.

With 10,000 objects every byte per object is 10 KB of operator memory, and the operator
must stay within 150 MB. So the state keeps the domain's slotted records
(model/records.py; not SQLAlchemy rows: their instrumentation alone cost ~1.7 KB per
object), short strings interned (the same "critical", "5m", customer ids and time stamps
are shared by every object instead of one copy each from the JSON decoder), and of the
status the cluster shows only a digest: the publisher only needs to know whether it
differs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from ..model.records import intern

# The status fields the publisher composes; lastSyncTime is compared only for presence,
# so a sync that changed nothing but the time patches nothing (see status_digest).
_COMPARED = ("observedGeneration", "phase", "conditions", "renderedTo")
NO_LABELS: dict[str, str] = {}  # shared by every object without labels; never mutated


def compact(value: Any) -> Any:
    """A deep copy of JSON data with interned keys and short strings."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, str):
        return intern(value)
    return value


def status_digest(status: Mapping[str, Any]) -> bytes:
    """What of a status the publisher compares: equal digests mean nothing to patch.

    Keys the operator does not write are ignored; a null value is the same as an absent
    key (a merge patch deletes keys set to null); lastSyncTime counts only by presence:
    it is the time the output last changed or was confirmed, and restamping it alone is
    not worth a write per object on every restart.
    """
    compared = {k: status[k] for k in _COMPARED if status.get(k) is not None}
    compared["lastSyncTime"] = status.get("lastSyncTime") is not None
    text = json.dumps(compared, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def mirrored_condition(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(status, lastTransitionTime) of the Mirrored condition a status shows, if any."""
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Mirrored":
            return intern(str(c.get("status"))), intern(str(c.get("lastTransitionTime") or ""))
    return None

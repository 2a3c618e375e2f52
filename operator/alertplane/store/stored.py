"""An object as stored with its status: what `get` shows and the reconciler reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ObjectRef
from ..model import API_VERSION
from .secrets import redact
from .tables import ObjectRow, StatusRow


@dataclass(frozen=True)
class Stored:
    """An object as stored, with its status: what `get` shows and the reconciler reads."""

    row: ObjectRow
    status: StatusRow | None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.row.kind, self.row.namespace, self.row.name)

    def manifest(
        self, spec: dict[str, Any] | None = None, with_status: bool = True
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.row.name, "namespace": self.row.namespace}
        if self.row.labels:
            meta["labels"] = self.row.labels
        meta["generation"] = self.row.generation
        out: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": self.row.kind,
            "metadata": meta,
            "spec": redact(spec if spec is not None else self.row.spec),
        }
        if with_status and self.status is not None:
            out["status"] = status_dict(self.status)
        return out


def status_dict(st: StatusRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "observedGeneration": st.observed_generation,
        "phase": st.phase,
        "conditions": st.conditions,
        "renderedTo": st.rendered_to,
    }
    if st.last_sync_time is not None:
        out["lastSyncTime"] = _iso(st.last_sync_time)
    return out


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

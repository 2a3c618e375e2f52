"""Data shaped for the templates: object rows, ordered routes, audit entries with diffs,
firing counts. Pure apart from `firing_counts` (one Alertmanager request, by the service)."""

from __future__ import annotations

import difflib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from ..errors import Unavailable, UpstreamFailed
from ..service.context import Context
from ..service.customers import TENANT_LABEL
from ..service.customers import firing_counts as firing_count
from ..service.objects import ALERT, NAME_KEY

log = logging.getLogger("alertplane.console")
PHASES = ("Synced", "Pending", "Invalid", "Failed", "Disabled")
FIRING_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Row:
    """One alert or receiver as the tables show it."""

    kind: str
    name: str  # spec.alertName / spec.receiverName
    object_name: str
    namespace: str
    spec: dict[str, Any]
    phase: str
    generation: int
    observed: int
    conditions: list[dict[str, Any]]
    rendered_to: list[str]
    last_sync: str
    # One alert of a warning/critical pair (another alert of the customer has its name):
    # its links carry ?severity= (render.alert_url).
    pair: bool = False

    @property
    def enabled(self) -> bool:
        return self.spec.get("enabled", True) is not False

    @property
    def message(self) -> str:
        """Why the object is not Synced: the message of its first false condition."""
        for cond in self.conditions:
            if cond.get("status") != "True" and cond.get("message"):
                return str(cond["message"])
        return ""

    @property
    def valid_message(self) -> str:
        for cond in self.conditions:
            if cond.get("type") == "Valid" and cond.get("status") == "False":
                return str(cond.get("message", ""))
        return ""


def row(out: dict[str, Any]) -> Row:
    kind = str(out["kind"])
    status = out.get("status") or {}
    spec = out.get("spec") or {}
    return Row(
        kind=kind,
        name=str(spec.get(NAME_KEY[kind], out["metadata"]["name"])),
        object_name=str(out["metadata"]["name"]),
        namespace=str(out["metadata"]["namespace"]),
        spec=spec,
        phase=str(status.get("phase", "Pending")),
        generation=int(out["metadata"].get("generation", 0)),
        observed=int(status.get("observedGeneration", 0)),
        conditions=list(status.get("conditions") or []),
        rendered_to=list(status.get("renderedTo") or []),
        last_sync=str(status.get("lastSyncTime", "")),
    )


def rows(items: list[dict[str, Any]]) -> list[Row]:
    made = [row(i) for i in items]
    shared = Counter((r.kind, r.name) for r in made)
    made = [replace(r, pair=True) if shared[(r.kind, r.name)] > 1 else r for r in made]
    return sorted(made, key=lambda r: (r.name.lower(), str(r.spec.get("severity", ""))))


def any_pending(items: list[Row]) -> bool:
    return any(r.phase == "Pending" for r in items)


def phase_list(phases: dict[str, int]) -> list[tuple[str, int]]:
    """(phase, count) in a fixed, meaningful order."""
    known = [(p, phases[p]) for p in PHASES if phases.get(p)]
    return known + sorted((p, n) for p, n in phases.items() if p not in PHASES and n)


def ordered_routes(receivers: list[Row]) -> list[Row]:
    """Receivers in the order Alertmanager tries their routes: (priority, receiverName)."""

    def key(r: Row) -> tuple[int, str]:
        route = r.spec.get("route") or {}
        priority = route.get("priority", 100)
        return (priority if isinstance(priority, int) else 100, r.name)

    return sorted(receivers, key=key)


def channels(spec: dict[str, Any]) -> list[str]:
    """One line per notification target; secrets are references by now, never shown."""
    out = []
    for email in spec.get("email") or []:
        out.append("e-mail to " + ", ".join(str(t) for t in email.get("to") or []))
    for slack in spec.get("slack") or []:
        out.append("Slack " + str(slack.get("channel") or "(default channel)"))
    for pd in spec.get("pagerduty") or []:
        out.append("PagerDuty" + (f" ({pd['severity']})" if pd.get("severity") else ""))
    for hook in spec.get("webhook") or []:
        out.append("webhook " + str(hook.get("url", "")))
    return out


def match_text(route: dict[str, Any]) -> str:
    match = route.get("match") or {}
    parts = []
    for key in ("severity", "category"):
        if match.get(key):
            parts.append(f"{key} ∈ {{{', '.join(map(str, match[key]))}}}")
    for key, value in (match.get("labels") or {}).items():
        parts.append(f'{key}="{value}"')
    return " and ".join(parts) or "every alert of the customer"


@dataclass
class AuditEntry:
    id: int
    time: str
    action: str
    kind: str
    namespace: str
    name: str  # object name
    spec_name: str
    generation: int
    actor: str
    source: str
    diff: list[tuple[str, str]] = field(default_factory=list)  # (css class, line)
    rollback: bool = False  # this version can be restored


def _yaml(spec: dict[str, Any] | None) -> list[str]:
    if spec is None:
        return []
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=100).splitlines()


def diff_lines(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(_yaml(before), _yaml(after), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        out.append((kind, line))
    return out


def audit_entries(items: list[dict[str, Any]], current: list[Row]) -> list[AuditEntry]:
    """Newest first; a version can be rolled back to when its object still exists and
    the version differs from what it holds now."""
    now = {(r.kind, r.namespace, r.object_name): r for r in current}
    out = []
    for item in reversed(items):
        before, after = item.get("before"), item.get("after")
        spec = after or before or {}
        kind = str(item["kind"])
        live = now.get((kind, item["namespace"], item["name"]))
        entry = AuditEntry(
            id=int(item["id"]),
            time=str(item["time"])[:19].replace("T", " "),
            action=str(item["action"]),
            kind=kind,
            namespace=str(item["namespace"]),
            name=str(item["name"]),
            spec_name=str(spec.get(NAME_KEY.get(kind, ""), item["name"])),
            generation=int(item["generation"]),
            actor=str(item["actor"]),
            source=str(item["source"]),
            diff=diff_lines(before, after),
            rollback=live is not None and after is not None and _differs(live.spec, after),
        )
        out.append(entry)
    return out


def _differs(live: dict[str, Any], version: dict[str, Any]) -> bool:
    return json.dumps(live, sort_keys=True) != json.dumps(version, sort_keys=True)


@dataclass(frozen=True)
class Firing:
    counts: dict[str, int] | None
    problem: str  # "" when counts are known


NOT_CONFIGURED = "Alertmanager not configured"
UNREACHABLE = "Alertmanager unreachable"


def firing_counts(ctx: Context, customers: list[str], scoped: str | None) -> Firing:
    """Active alerts per customer (service.customers.firing_counts), or why not known."""
    try:
        return Firing(firing_count(ctx, customers, scoped, FIRING_TIMEOUT_S), "")
    except Unavailable:
        return Firing(None, NOT_CONFIGURED)
    except UpstreamFailed as exc:
        if exc.__cause__ is not None:
            log.warning("Alertmanager query failed: %s", exc.__cause__)
        return Firing(None, UNREACHABLE)


def alert_samples(alerts: list[Row]) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """alertName → (labels, annotations) of the alert as Prometheus would send it, with
    the annotation templates left as written (Prometheus expands them per series)."""
    out = {}
    for r in alerts:
        if r.kind != ALERT:
            continue
        spec = r.spec
        labels = {"alertname": r.name, TENANT_LABEL: str(spec.get("customerId", ""))}
        for key in ("severity", "category", "urgency"):
            if spec.get(key):
                labels[key] = str(spec[key])
        labels.update({str(k): str(v) for k, v in (spec.get("labels") or {}).items()})
        notes = {
            ("runbook_url" if k == "runbookUrl" else str(k)): str(v)
            for k, v in (spec.get("annotations") or {}).items()
        }
        out[r.name] = (dict(sorted(labels.items())), dict(sorted(notes.items())))
    return out

"""Object names for imported alerts: `<customer>-<alert name in kebab case>`, valid
Kubernetes names whatever characters the alert name holds, unique within one import.

Alert names may hold any characters (Prometheus takes `alertname` as a label value), so the
name is lossy: `Cert-managerAbsent` and `CertManagerAbsent` both become
`cert-manager-absent`. A collision of two alert names is resolved with a short hash of
the alert name, so the same input always yields the same names.

The warning/critical pair idiom (one alert name at two severities, as upstream mixins
write `NodeFilesystemSpaceFillingUp`) imports as two objects with the SAME alertName —
never renamed: inhibition, silences and dashboards key on it — and both objects named
with their severity, `<customer>-<kebab>-warning` and `<customer>-<kebab>-critical`
(`pair_names`, after the whole input is converted): neither takes the plain name, so
the names do not depend on which of the two comes first in the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from ..model.common import MAX_NAME

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
# Room for `-<severity>-<hash>` after the customer id and the alert part.
_ALERT_PART = 120


def kebab(alert: str) -> str:
    """`KubePodCrashLooping` → `kube-pod-crash-looping`; `-` alone for nothing usable."""
    words = _NOT_NAME.sub("-", _CAMEL.sub("-", alert).lower()).strip("-")
    return words[:_ALERT_PART].strip("-") or "alert"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


class Names:
    """Hands out names; each call returns one not handed out before."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._owner: dict[str, str] = {}  # `<customer>-<kebab>` → the alert that took it

    def rename(self, old: str, customer: str, alert: str, severity: str) -> str:
        """`old` exchanged for `<customer>-<kebab>-<severity>` when that is free (else
        `old` kept: another alert's name already holds it)."""
        wanted = f"{customer}-{kebab(alert)}-{severity}"[:MAX_NAME]
        if wanted == old or wanted in self._taken:
            return old
        self._taken.discard(old)
        self._taken.add(wanted)
        return wanted

    def take(self, customer: str, alert: str, severity: str) -> str:
        base = f"{customer}-{kebab(alert)}"
        # `<base>-<severity>` only for the same alert name (its pair): another name that
        # kebabs alike takes a hash, so it never holds a name a pair member wants.
        same = self._owner.setdefault(base, alert) == alert
        digest = _digest(alert)
        candidates = [base, f"{base}-{severity}"] if same else [base]
        candidates += [f"{base}-{digest}", f"{base}-{severity}-{digest}"]
        n = 2
        while True:
            for candidate in candidates:
                if candidate[:MAX_NAME] not in self._taken:
                    self._taken.add(candidate[:MAX_NAME])
                    return candidate[:MAX_NAME]
            candidates = [f"{base}-{digest}-{n}"]
            n += 1


def pair_names(manifests: Iterable[dict[str, Any]], names: Names) -> None:
    """Both (all) alerts of a pair — one customer, one alertName, several severities —
    named with their severity, in place."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for manifest in manifests:
        spec = manifest.get("spec")
        if manifest.get("kind") != "CustomerAlert" or not isinstance(spec, dict):
            continue
        key = (str(spec.get("customerId")), str(spec.get("alertName")))
        groups.setdefault(key, []).append(manifest)
    for (customer, alert), members in groups.items():
        if len({m["spec"].get("severity") for m in members}) < 2:
            continue
        for m in members:
            meta = m["metadata"]
            meta["name"] = names.rename(meta["name"], customer, alert, str(m["spec"]["severity"]))

"""Object names for imported alerts: `<customer>-<alert name in kebab case>`, valid
Kubernetes names whatever characters the alert name holds, unique within one import.

Alert names may hold any characters (Prometheus takes `alertname` as a label value), so the
name is lossy: `Cert-managerAbsent` and `CertManagerAbsent` both become
`cert-manager-absent`. A collision is resolved with the severity (the warning/critical pair
idiom: `...-filling-up-warning`, `...-filling-up-critical`), then with a short hash of the
alert name, so the same input always yields the same names.

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
        for candidate in (
            base,
            f"{base}-{severity}",
            f"{base}-{_digest(alert)}",
            f"{base}-{severity}-{_digest(alert)}",
        ):
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate[:MAX_NAME]
        n = 2
        while f"{base}-{_digest(alert)}-{n}" in self._taken:
            n += 1
        name = f"{base}-{_digest(alert)}-{n}"
        self._taken.add(name)
        return name


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

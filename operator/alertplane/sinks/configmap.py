"""ConfigMap sink: one rules ConfigMap per customer and one Alertmanager ConfigMap.

The same files the files sink writes, as ConfigMaps in the sink namespace:
`alertplane-rules-<customerId>` (key `<customerId>.yml`, label `alertplane.io/rules: "true"`)
and `alertplane-alertmanager` (key `alertmanager.yml`, label `alertplane.io/alertmanager:
"true"`). Prometheus and Alertmanager mount them (e.g. a sidecar that collects ConfigMaps
by label into the rule directory); the sink then POSTs `/-/reload` when URLs are
configured. Output is checked by promtool/amtool before anything is written.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..errors import Problem
from ..model import CustomerReceiver
from ..render import ALERTMANAGER_PATH
from ..validate.output import check_output
from .base import Files, KubeApi, Liveness, Receivers, ReloadOutcome
from .kubeobjects import (
    ALERTMANAGER_LABEL,
    CUSTOMER_LABEL,
    RULES_LABEL,
    ManagedObjects,
    customer_of_rules,
    labels,
)
from .reload import Reloader

ALERTMANAGER_CONFIGMAP = "alertplane-alertmanager"


def rules_configmap(customer_id: str) -> str:
    return f"alertplane-rules-{customer_id}"


class ConfigMapSink:
    name = "configmap"
    written_message: str | None = "ConfigMap written"

    def __init__(self, client: KubeApi, namespace: str, reloader: Reloader) -> None:
        self.namespace = namespace
        self.configmaps = ManagedObjects(client, "v1", "ConfigMap", "configmaps", namespace)
        self.reloader = reloader

    def start(self) -> None:
        self.configmaps.load()

    def generated_outputs(self) -> list[str]:
        return [
            f"rules/{self.configmaps.labels_of(name)[CUSTOMER_LABEL]}.yml"
            for name in self.configmaps.names()
            if self.configmaps.labels_of(name).get(RULES_LABEL) == "true"
            and CUSTOMER_LABEL in self.configmaps.labels_of(name)
        ]

    def refresh(self) -> None:
        """Re-read the ConfigMaps that exist (the periodic resync compares with them)."""
        self.configmaps.load()

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        planned: list[tuple[str, str, dict[str, str] | None, dict[str, Any]]] = []
        for rel, text in sorted(files.items()):
            cid = customer_of_rules(rel)
            if cid is not None:
                name, object_labels = rules_configmap(cid), labels(cid, **{RULES_LABEL: "true"})
                content = {"data": {f"{cid}.yml": text}}
            elif rel == ALERTMANAGER_PATH and text is not None:
                name = ALERTMANAGER_CONFIGMAP
                object_labels = labels(None, **{ALERTMANAGER_LABEL: "true"})
                content = {"data": {"alertmanager.yml": text}}
            else:
                continue
            if text is None:
                planned.append((rel, name, None, {}))
            elif self.configmaps.differs(name, object_labels, content):
                planned.append((rel, name, object_labels, content))
        # Only what is about to be written needs promtool/amtool (a full resync of
        # unchanged output checks nothing).
        check_output({rel: files[rel] for rel, _, lbl, _ in planned if lbl is not None})
        changed: list[str] = []
        for rel, name, planned_labels, content in planned:
            if planned_labels is None:
                wrote = self.configmaps.remove(name)
            else:
                wrote = self.configmaps.put(name, planned_labels, content)
            if wrote:
                changed.append(rel)
        return changed

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        return self.reloader.make_live(written)

    def liveness(self, output: str, customer_id: str) -> Liveness:
        return self.reloader.liveness(output)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []  # the mounted configuration reads secret files the platform provides

    def location(self, output: str, customer_id: str) -> str:
        if output == ALERTMANAGER_PATH:
            return self.configmaps.location(ALERTMANAGER_CONFIGMAP)
        return self.configmaps.location(rules_configmap(customer_id))

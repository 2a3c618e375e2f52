"""Objects alertplane owns in the sink namespace: write only what changed, delete only ours.

Shared by the ConfigMap and prometheus-operator sinks. Every object carries
`app.kubernetes.io/managed-by: alertplane` and `alertplane.io/customer`, and only objects
with that label are ever listed, compared or deleted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AlertplaneError, OutputRejected
from ..kube.client import ApiError, KubeClient
from ..kube.paths import api_path
from ..render import ALERTMANAGER_PATH
from ..validate.blame import check_configs
from ..validate.rulecheck import check_rule_texts

MANAGED_BY = "app.kubernetes.io/managed-by"
CUSTOMER_LABEL = "alertplane.io/customer"
RULES_LABEL = "alertplane.io/rules"
ALERTMANAGER_LABEL = "alertplane.io/alertmanager"
SELECTOR = f"{MANAGED_BY}=alertplane"


class SinkError(AlertplaneError):
    """Writing to the cluster failed (the reconciler marks the sync WriteFailed, retries)."""


def labels(customer: str | None = None, **extra: str) -> dict[str, str]:
    out = {MANAGED_BY: "alertplane"}
    if customer is not None:
        out[CUSTOMER_LABEL] = customer
    out.update(extra)
    return out


class ManagedObjects:
    """One kind of object in one namespace, cached after one list at start."""

    def __init__(
        self, client: KubeClient, api_version: str, kind: str, plural: str, namespace: str
    ) -> None:
        self.client = client
        self.api_version, self.kind, self.plural = api_version, kind, plural
        self.namespace = namespace
        # name → (labels, content) as last read or written; content is the body minus
        # apiVersion/kind/metadata/status (spec, or data for ConfigMaps and Secrets).
        self.known: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}

    def load(self) -> None:
        self.known = {}
        try:
            items = list(self.client.list(self._path(), SELECTOR))
        except ApiError as exc:
            raise SinkError(f"cannot list {self.kind}s in {self.namespace}: {exc}") from exc
        for item in items:
            meta = item.get("metadata") or {}
            self.known[meta["name"]] = (dict(meta.get("labels") or {}), _content(item))

    def names(self) -> list[str]:
        return sorted(self.known)

    def labels_of(self, name: str) -> dict[str, str]:
        return self.known[name][0]

    def location(self, name: str) -> str:
        return f"{self.kind} {self.namespace}/{name}"

    def differs(self, name: str, object_labels: dict[str, str], content: dict[str, Any]) -> bool:
        return self.known.get(name) != (object_labels, content)

    def put(self, name: str, object_labels: dict[str, str], content: dict[str, Any]) -> bool:
        """Create or update `name` when it differs from what is known; True when written."""
        if not self.differs(name, object_labels, content):
            return False
        body = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {"name": name, "namespace": self.namespace, "labels": object_labels},
            **copy.deepcopy(content),
        }
        try:
            self.client.apply(self._path(name), body)
        except ApiError as exc:
            raise SinkError(f"cannot write {self.location(name)}: {exc}") from exc
        self.known[name] = (dict(object_labels), copy.deepcopy(content))
        return True

    def remove(self, name: str) -> bool:
        if name not in self.known:
            return False
        try:
            self.client.delete(self._path(name))
        except ApiError as exc:
            raise SinkError(f"cannot delete {self.location(name)}: {exc}") from exc
        del self.known[name]
        return True

    def _path(self, name: str | None = None) -> str:
        return api_path(self.api_version, self.plural, self.namespace, name)


def _content(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in item.items()
        if k not in ("apiVersion", "kind", "metadata", "status", "type", "immutable")
    }


def check_rendered(files: Mapping[str, str | None]) -> None:
    """The same gate as the files sink: promtool and amtool accept what is about to go out."""
    rules = {
        Path(rel).name: text
        for rel, text in files.items()
        if rel.startswith("rules/") and text is not None
    }
    if rules:
        errors = [f"{n}: {e}" for n, es in check_rule_texts(rules).items() for e in es]
        if errors:
            raise OutputRejected("promtool rejected the rendered rules", "\n".join(errors))
    am = files.get(ALERTMANAGER_PATH)
    if am is not None:
        complaint = check_configs({"alertmanager.yml": am})["alertmanager.yml"]
        if complaint:
            raise OutputRejected("amtool rejected the rendered Alertmanager config", complaint)


def customer_of_rules(rel: str) -> str | None:
    if rel.startswith("rules/") and rel.endswith(".yml"):
        return rel[len("rules/") : -len(".yml")]
    return None

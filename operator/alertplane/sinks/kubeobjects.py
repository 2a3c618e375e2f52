"""Objects alertplane owns in the sink namespace: write only what changed, delete only ours.

Shared by the ConfigMap and prometheus-operator sinks. Every object carries
`app.kubernetes.io/managed-by: alertplane` and `alertplane.io/customer`, and only objects
with that label are ever listed, compared or deleted.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import AlertplaneError
from .base import KubeApi, SinkError

MANAGED_BY = "app.kubernetes.io/managed-by"
CUSTOMER_LABEL = "alertplane.io/customer"
RULES_LABEL = "alertplane.io/rules"
ALERTMANAGER_LABEL = "alertplane.io/alertmanager"
SELECTOR = f"{MANAGED_BY}=alertplane"


def labels(customer: str | None = None, **extra: str) -> dict[str, str]:
    out = {MANAGED_BY: "alertplane"}
    if customer is not None:
        out[CUSTOMER_LABEL] = customer
    out.update(extra)
    return out


class ManagedObjects:
    """One kind of object in one namespace, cached after one list at start."""

    def __init__(
        self, client: KubeApi, api_version: str, kind: str, plural: str, namespace: str
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
        except AlertplaneError as exc:  # the client's ApiError, or its login failing
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
        except AlertplaneError as exc:  # the client's ApiError, or its login failing
            raise SinkError(f"cannot write {self.location(name)}: {exc}") from exc
        self.known[name] = (dict(object_labels), copy.deepcopy(content))
        return True

    def remove(self, name: str) -> bool:
        if name not in self.known:
            return False
        try:
            self.client.delete(self._path(name))
        except AlertplaneError as exc:  # the client's ApiError, or its login failing
            raise SinkError(f"cannot delete {self.location(name)}: {exc}") from exc
        del self.known[name]
        return True

    def _path(self, name: str | None = None) -> str:
        return object_path(self.api_version, self.plural, self.namespace, name)


def _content(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in item.items()
        if k not in ("apiVersion", "kind", "metadata", "status", "type", "immutable")
    }


def customer_of_rules(rel: str) -> str | None:
    if rel.startswith("rules/") and rel.endswith(".yml"):
        return rel[len("rules/") : -len(".yml")]
    return None


def object_path(api_version: str, plural: str, namespace: str, name: str | None = None) -> str:
    """The API path of a namespaced object (or of its collection). The same as the
    operator's client builds; written here so that sinks need nothing from k8s/ (the
    Kubernetes package, once it is one, is where both take it from)."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path

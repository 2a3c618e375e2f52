"""Where each kind alertplane reads or writes lives in the Kubernetes API: the one table.

The operator's watches and initial list, the REST API's writer, the sinks' managed
objects, the CRD manifests and the CLI's kind names all take group, version, plural and
(for alertplane's own kinds) the spec field that names an object from here. The name
field itself is a fact of the model (`model.NAME_FIELDS`): validation and the store,
which sit below this package, read it there.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import TABLE
from ..model.common import API_GROUP, API_VERSION


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    group: str = ""  # "": the core API (/api/v1)
    version: str = "v1"
    namespaced: bool = True
    name_field: str | None = None  # the spec field naming the object (alertplane's kinds)

    @property
    def api_version(self) -> str:
        """`apiVersion` as written in objects: `v1`, `alertplane.io/v1alpha1`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def crd_name(self) -> str:
        """The CustomResourceDefinition's name, `<plural>.<group>`."""
        return f"{self.plural}.{self.group}"


_VERSION = API_VERSION.split("/", 1)[1]

# alertplane's own kinds (its CRDs), from the model's table (model/kinds.py), in the order
# the operator watches and lists them.
CUSTOM = tuple(Kind(k.kind, k.plural, API_GROUP, _VERSION, name_field=k.name_field) for k in TABLE)
CUSTOMER_ALERT, CUSTOMER_RECEIVER = CUSTOM[0], CUSTOM[1]
NAMESPACE = Kind("Namespace", "namespaces", namespaced=False)
CONFIG_MAP = Kind("ConfigMap", "configmaps")
SECRET = Kind("Secret", "secrets")
EVENT = Kind("Event", "events")
MONITORING = "monitoring.coreos.com"  # prometheus-operator's API group
PROMETHEUS_RULE = Kind("PrometheusRule", "prometheusrules", MONITORING, "v1")
ALERTMANAGER_CONFIG = Kind("AlertmanagerConfig", "alertmanagerconfigs", MONITORING, "v1alpha1")

BY_KIND = {
    k.kind: k
    for k in (
        *CUSTOM,
        NAMESPACE,
        CONFIG_MAP,
        SECRET,
        EVENT,
        PROMETHEUS_RULE,
        ALERTMANAGER_CONFIG,
    )
}
# kind → plural of alertplane's own kinds.
PLURALS = {k.kind: k.plural for k in CUSTOM}


def kind_of(kind: str) -> Kind:
    """The table's entry of `kind` (KeyError: not a kind alertplane reads or writes)."""
    return BY_KIND[kind]

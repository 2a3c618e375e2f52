"""The kinds alertplane reads, one table entry each.

Every layer that used to branch on "alert or else receiver" reads the entry instead: the
spec field naming an object within its customer, the word a message uses for it, the REST
collection, the CLI's names, whether it renders into the customer's rules file or into
alertmanager.yml, and whether it can be switched off (`spec.enabled`). From this table come
`model.KINDS`/`NAME_FIELDS`, kube/kinds.py's CRD kinds (the operator's watches and webhook
handlers), the CLI's kind names, the store's name look-ups, admission and uniqueness.

Adding a kind that renders into the customer's rules file (docs/architecture.md, "Kinds"):
1. its model (model/<kind>.py) and an entry in TABLE below;
2. its checks: an entry in validate/__init__.py `CHECKS`;
3. its rendering: a `RuleKind` in render/rules.py `RULE_KINDS`, and its spec type in that
   module's `RuleSpec` union and `rule_spec` (groups `<id>-…` after the alert groups);
4. its CRD: an entry in crds.py `KINDS`; regenerate crds/ and the chart's copies, and add
   the plural to the chart's RBAC (templates/_helpers.tpl) and webhook list;
5. the REST API: a `Kind` in api/routes_objects.py `KINDS` and its spec schemas in
   api/schemas.py `spec_schemas` (`<Schema>SpecIn`, `<Schema>SpecUpdate`);
6. the console: a `FormKind` in console/editing.py (console/record_form.py is a plain one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .alert import CustomerAlert
from .receiver import CustomerReceiver
from .recording import CustomerRecordingRule
from .slo import CustomerSLO

Resource = CustomerAlert | CustomerReceiver | CustomerRecordingRule | CustomerSLO
Output = Literal["rules", "alertmanager"]
RULES: Output = "rules"
ALERTMANAGER: Output = "alertmanager"


@dataclass(frozen=True)
class KindInfo:
    kind: str  # CustomerAlert
    model: type[Any]
    name_field: str  # the spec field (camelCase) naming an object within its customer
    noun: str  # alert: how messages, the console and the CLI name one object
    plural: str  # customeralerts: the Kubernetes plural (CRD, watches)
    rest: str  # alerts: the REST collection under /customers/{id}/
    short: tuple[str, ...]  # further CLI names (kubectl-style short names)
    output: Output  # where its rendering goes
    toggles: bool  # has spec.enabled (disabled objects are kept but not rendered)
    # Spec fields that let two objects of a customer share a name: recording rules of one
    # record with different labels (upstream mixins record one series name from several
    # rules, e.g. `reason="cpu_usage"` and `reason="memory_usage"`).
    shared_by: tuple[str, ...] = ()

    @property
    def attr(self) -> str:
        """The spec's Python attribute of the name field: alertName → alert_name."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.name_field)

    @property
    def nouns(self) -> str:
        return f"{self.noun}s"


ALERT = KindInfo(
    "CustomerAlert",
    CustomerAlert,
    "alertName",
    "alert",
    "customeralerts",
    "alerts",
    ("alert", "alerts", "ca"),
    RULES,
    True,
    # The warning/critical pair idiom: one alertName at two severities (docs/import.md).
    ("severity",),
)
RECEIVER = KindInfo(
    "CustomerReceiver",
    CustomerReceiver,
    "receiverName",
    "receiver",
    "customerreceivers",
    "receivers",
    ("receiver", "receivers", "cr"),
    ALERTMANAGER,
    False,
)
RECORDING_RULE = KindInfo(
    "CustomerRecordingRule",
    CustomerRecordingRule,
    "record",
    "recording rule",
    "customerrecordingrules",
    "recordingrules",
    ("recordingrule", "recordingrules", "record", "records", "crr"),
    RULES,
    True,
    ("labels",),
)

SLO = KindInfo(
    "CustomerSLO",
    CustomerSLO,
    "sloName",
    "SLO",
    "customerslos",
    "slos",
    ("slo", "slos", "cslo"),
    RULES,
    True,
)

# In the order every listing, CRD set and watch uses.
TABLE: tuple[KindInfo, ...] = (ALERT, RECEIVER, RECORDING_RULE, SLO)
BY_KIND: dict[str, KindInfo] = {k.kind: k for k in TABLE}


def info(kind: str) -> KindInfo:
    """The entry of `kind` (KeyError: not one of alertplane's kinds)."""
    return BY_KIND[kind]


def name_of(obj: Resource) -> str:
    """The object's name within its customer (spec.alertName, spec.receiverName, …)."""
    value: str = getattr(obj.spec, BY_KIND[obj.kind].attr)
    return value


def identity(kind: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    """What must be unique per customer and kind (spec in its written, camelCase shape):
    the name, and the fields that let objects share it (`shared_by`), canonically."""
    entry = BY_KIND[kind]
    name = spec.get(entry.name_field)
    shared = (json.dumps(spec.get(f) or None, sort_keys=True) for f in entry.shared_by)
    return (str(name), *shared)


def enabled(obj: Resource) -> bool:
    """Whether the object renders (kinds without spec.enabled always do)."""
    return bool(getattr(obj.spec, "enabled", True))


def renders_rules(kind: str) -> bool:
    found = BY_KIND.get(kind)
    return found is not None and found.output == RULES

"""Pydantic models of the alertplane resources (the source of the CRD schemas)."""

from .alert import (
    KNOWN_ANNOTATIONS,
    RESERVED_LABELS,
    Annotations,
    Category,
    CustomerAlert,
    CustomerAlertSpec,
    Severity,
    Urgency,
)
from .common import API_GROUP, API_VERSION, ObjectMeta
from .kinds import TABLE, KindInfo, Resource, enabled, info, name_of
from .receiver import (
    CustomerReceiver,
    CustomerReceiverSpec,
    EmailConfig,
    PagerDutyConfig,
    Route,
    RouteMatch,
    SecretKeyRef,
    SlackConfig,
    WebhookConfig,
)
from .recording import (
    RECORDING_RESERVED_LABELS,
    CustomerRecordingRule,
    CustomerRecordingRuleSpec,
)

# kind → model, in the table's order (model/kinds.py).
KINDS: dict[str, type[Resource]] = {k.kind: k.model for k in TABLE}
# The spec field that names an object within its customer (unique per customer and kind).
NAME_FIELDS = {k.kind: k.name_field for k in TABLE}

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KINDS",
    "KNOWN_ANNOTATIONS",
    "NAME_FIELDS",
    "RECORDING_RESERVED_LABELS",
    "RESERVED_LABELS",
    "TABLE",
    "Annotations",
    "Category",
    "CustomerAlert",
    "CustomerAlertSpec",
    "CustomerReceiver",
    "CustomerReceiverSpec",
    "CustomerRecordingRule",
    "CustomerRecordingRuleSpec",
    "EmailConfig",
    "KindInfo",
    "ObjectMeta",
    "PagerDutyConfig",
    "Resource",
    "Route",
    "RouteMatch",
    "SecretKeyRef",
    "Severity",
    "SlackConfig",
    "Urgency",
    "WebhookConfig",
    "enabled",
    "info",
    "name_of",
]

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

Resource = CustomerAlert | CustomerReceiver
KINDS: dict[str, type[CustomerAlert] | type[CustomerReceiver]] = {
    "CustomerAlert": CustomerAlert,
    "CustomerReceiver": CustomerReceiver,
}
# The spec field that names an object within its customer (unique per customer and kind).
NAME_FIELDS = {"CustomerAlert": "alertName", "CustomerReceiver": "receiverName"}

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KINDS",
    "KNOWN_ANNOTATIONS",
    "NAME_FIELDS",
    "RESERVED_LABELS",
    "Annotations",
    "Category",
    "CustomerAlert",
    "CustomerAlertSpec",
    "CustomerReceiver",
    "CustomerReceiverSpec",
    "EmailConfig",
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
]

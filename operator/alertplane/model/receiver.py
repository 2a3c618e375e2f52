"""CustomerReceiver: a customer's notification targets and the route that feeds them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .alert import Category, Severity
from .am_primitives import MAX_INHIBIT_RULES, MAX_TIME_INTERVALS, InhibitRule, NamedTimeInterval
from .common import (
    MAX_CHANNELS,
    MAX_ENTRIES,
    MAX_PRIORITY,
    MAX_URL,
    CustomerId,
    Duration,
    LabelValue,
    ObjectMeta,
    ReceiverName,
    SecretKey,
    SecretName,
    Strict,
    text,
)

# RFC 5321: a forward path is at most 256 octets including the angle brackets.
MAX_EMAIL = 254


class SecretKeyRef(Strict):
    """A key of a Kubernetes Secret (in files mode: the file
    `<secretsDir>/<namespace>/<name>/<key>`, see render/secretfiles.py)."""

    name: SecretName
    key: SecretKey


class EmailConfig(Strict):
    to: list[Annotated[str, Field(max_length=MAX_EMAIL)]] = Field(
        min_length=1, max_length=MAX_ENTRIES, description="Recipient addresses."
    )
    subject_template: str | None = text("Subject (Alertmanager template).")
    html_template: str | None = text("HTML body (Alertmanager template).")
    text_template: str | None = text("Text body (Alertmanager template).")
    send_resolved: bool | None = Field(None, description="Also notify when resolved.")


class SlackConfig(Strict):
    api_url_secret_ref: SecretKeyRef | None = Field(
        None, alias="apiURLSecretRef", description="Secret key holding the webhook URL."
    )
    api_url: str | None = Field(
        None,
        alias="apiURL",
        max_length=MAX_URL,
        description="Webhook URL in clear (prefer apiURLSecretRef).",
    )
    channel: str | None = text("Channel, e.g. #alerts.", 256)
    title_template: str | None = text("Title (Alertmanager template).")
    text_template: str | None = text("Text (Alertmanager template).")
    send_resolved: bool | None = None


class PagerDutyConfig(Strict):
    routing_key_secret_ref: SecretKeyRef | None = Field(
        None, description="Secret key holding the Events API v2 routing key."
    )
    routing_key: str | None = text("Routing key in clear (prefer routingKeySecretRef).", 256)
    severity: str | None = text("critical, error, warning, info or a template.", 1024)
    description: str | None = text("Incident summary (Alertmanager template).")
    send_resolved: bool | None = None


class WebhookConfig(Strict):
    url: str = Field(
        max_length=MAX_URL, description="http(s) URL receiving Alertmanager's webhook payload."
    )
    send_resolved: bool | None = None


class RouteMatch(Strict):
    severity: list[Severity] = Field(
        default_factory=list, max_length=len(Severity), description="Any of these."
    )
    category: list[Category] = Field(
        default_factory=list, max_length=len(Category), description="Any of these."
    )
    labels: dict[str, LabelValue] = Field(
        default_factory=dict, max_length=MAX_ENTRIES, description="All of these, exactly."
    )


class Route(Strict):
    priority: int = Field(
        100,
        ge=-MAX_PRIORITY,
        le=MAX_PRIORITY,
        description="Routes are tried in (priority, receiverName) order.",
    )
    match: RouteMatch = Field(default_factory=RouteMatch)
    continue_: bool = Field(
        False, alias="continue", description="Keep trying later routes after this one matched."
    )
    # Plain strings: Alertmanager's '...' (group by all labels) is not a label name;
    # validate.fields checks the names and that '...' stands alone.
    group_by: list[str] | None = Field(None, max_length=MAX_ENTRIES)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    # Names of this receiver's spec.timeIntervals (validate/am_primitives.py checks them).
    mute_time_intervals: list[str] = Field(
        default_factory=list,
        max_length=MAX_TIME_INTERVALS,
        description="Not notified while any of these of spec.timeIntervals is in effect.",
    )
    active_time_intervals: list[str] = Field(
        default_factory=list,
        max_length=MAX_TIME_INTERVALS,
        description="Notified only while one of these of spec.timeIntervals is in effect.",
    )


class CustomerReceiverSpec(Strict):
    customer_id: CustomerId
    receiver_name: ReceiverName
    email: list[EmailConfig] = Field(default_factory=list, max_length=MAX_CHANNELS)
    slack: list[SlackConfig] = Field(default_factory=list, max_length=MAX_CHANNELS)
    pagerduty: list[PagerDutyConfig] = Field(default_factory=list, max_length=MAX_CHANNELS)
    webhook: list[WebhookConfig] = Field(default_factory=list, max_length=MAX_CHANNELS)
    route: Route = Field(default_factory=Route)
    inhibit_rules: list[InhibitRule] = Field(
        default_factory=list,
        max_length=MAX_INHIBIT_RULES,
        description="Inhibit rules, limited to this customer's alerts on both sides.",
    )
    time_intervals: list[NamedTimeInterval] = Field(
        default_factory=list,
        max_length=MAX_TIME_INTERVALS,
        description="Named time intervals this receiver's route refers to.",
    )

    def channel_count(self) -> int:
        return len(self.email) + len(self.slack) + len(self.pagerduty) + len(self.webhook)


class CustomerReceiver(Strict):
    """A CustomerReceiver manifest (apiVersion alertplane.io/v1alpha1)."""

    model_config = Strict.model_config | {"alias_generator": None}

    api_version: Literal["alertplane.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["CustomerReceiver"]
    metadata: ObjectMeta
    spec: CustomerReceiverSpec
    status: dict[str, Any] | None = None

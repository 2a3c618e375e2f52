"""CustomerReceiver: a customer's notification targets and the route that feeds them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .alert import Category, Severity
from .common import CustomerId, Duration, ObjectMeta, ReceiverName, Strict


class SecretKeyRef(Strict):
    """A key of a Kubernetes Secret (in files mode: a file under the secrets directory)."""

    name: str = Field(min_length=1, description="Secret name (same namespace).")
    key: str = Field(min_length=1, description="Key inside the Secret.")


class EmailConfig(Strict):
    to: list[str] = Field(min_length=1, description="Recipient addresses.")
    subject_template: str | None = Field(None, description="Subject (Alertmanager template).")
    html_template: str | None = Field(None, description="HTML body (Alertmanager template).")
    text_template: str | None = Field(None, description="Text body (Alertmanager template).")
    send_resolved: bool | None = Field(None, description="Also notify when resolved.")


class SlackConfig(Strict):
    api_url_secret_ref: SecretKeyRef | None = Field(
        None, alias="apiURLSecretRef", description="Secret key holding the webhook URL."
    )
    api_url: str | None = Field(
        None, alias="apiURL", description="Webhook URL in clear (prefer apiURLSecretRef)."
    )
    channel: str | None = Field(None, description="Channel, e.g. #alerts.")
    title_template: str | None = Field(None, description="Title (Alertmanager template).")
    text_template: str | None = Field(None, description="Text (Alertmanager template).")
    send_resolved: bool | None = None


class PagerDutyConfig(Strict):
    routing_key_secret_ref: SecretKeyRef | None = Field(
        None, description="Secret key holding the Events API v2 routing key."
    )
    routing_key: str | None = Field(
        None, description="Routing key in clear (prefer routingKeySecretRef)."
    )
    severity: str | None = Field(None, description="critical, error, warning, info or a template.")
    description: str | None = Field(None, description="Incident summary (Alertmanager template).")
    send_resolved: bool | None = None


class WebhookConfig(Strict):
    url: str = Field(description="http(s) URL receiving Alertmanager's webhook payload.")
    send_resolved: bool | None = None


class RouteMatch(Strict):
    severity: list[Severity] = Field(default_factory=list, description="Any of these.")
    category: list[Category] = Field(default_factory=list, description="Any of these.")
    labels: dict[str, str] = Field(default_factory=dict, description="All of these, exactly.")


class Route(Strict):
    priority: int = Field(100, description="Routes are tried in (priority, receiverName) order.")
    match: RouteMatch = Field(default_factory=RouteMatch)
    continue_: bool = Field(
        False, alias="continue", description="Keep trying later routes after this one matched."
    )
    # Plain strings: Alertmanager's '...' (group by all labels) is not a label name;
    # validate.fields checks the names and that '...' stands alone.
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None


class CustomerReceiverSpec(Strict):
    customer_id: CustomerId
    receiver_name: ReceiverName
    email: list[EmailConfig] = Field(default_factory=list)
    slack: list[SlackConfig] = Field(default_factory=list)
    pagerduty: list[PagerDutyConfig] = Field(default_factory=list)
    webhook: list[WebhookConfig] = Field(default_factory=list)
    route: Route = Field(default_factory=Route)

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

"""CustomerAlert: one Prometheus alerting rule owned by one customer."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from .common import AlertName, CustomerId, Duration, ObjectMeta, Strict

# Labels alertplane sets itself: a user value would break routing or isolation.
RESERVED_LABELS = ("customer_id", "severity", "category", "urgency")
KNOWN_ANNOTATIONS = ("summary", "description", "impact", "action", "runbookUrl")


class Category(StrEnum):
    application = "application"
    infrastructure = "infrastructure"


class Severity(StrEnum):
    critical = "critical"
    warning = "warning"
    info = "info"


class Urgency(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class Annotations(Strict):
    """The well-known annotations plus any free keys (all Go templates)."""

    model_config = Strict.model_config | {"extra": "allow"}
    __pydantic_extra__: dict[str, str] = Field(init=False)

    summary: str | None = Field(None, description="One-line summary (Go template).")
    description: str | None = Field(None, description="Details (Go template).")
    impact: str | None = Field(None, description="What the customer is affected by.")
    action: str | None = Field(None, description="What the responder should do.")
    runbook_url: str | None = Field(
        None, description="Runbook link; rendered as the runbook_url annotation."
    )

    def rendered(self) -> dict[str, str]:
        """Annotation key → template, exactly as Prometheus will carry them."""
        out: dict[str, str] = {}
        for key in ("summary", "description", "impact", "action"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.runbook_url is not None:
            out["runbook_url"] = self.runbook_url
        out.update(self.__pydantic_extra__ or {})
        return dict(sorted(out.items()))


class CustomerAlertSpec(Strict):
    customer_id: CustomerId
    alert_name: AlertName
    category: Category = Field(description="application or infrastructure.")
    severity: Severity = Field(description="critical, warning or info.")
    urgency: Urgency | None = Field(None, description="high, medium or low.")
    enabled: bool = Field(True, description="Disabled alerts are kept but not rendered.")
    expr: str = Field(
        min_length=1,
        description='PromQL; every selector must carry customer_id="<customerId>".',
    )
    for_: Duration | None = Field(None, alias="for", description="Pending period.")
    keep_firing_for: Duration | None = Field(
        None, description="Keep firing this long after the condition clears (Prometheus ≥ 2.42)."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels; customer_id, severity, category, urgency are reserved.",
    )
    annotations: Annotations = Field(default_factory=Annotations)

    @model_validator(mode="before")
    @classmethod
    def _expr_is_text(cls, data: Any) -> Any:
        # YAML turns `expr: 1` into an int; PromQL is text and must be kept as written.
        expr = data.get("expr") if isinstance(data, dict) else None
        if isinstance(expr, int | float) and not isinstance(expr, bool):
            data = {**data, "expr": str(expr)}
        return data

    def rule_labels(self) -> dict[str, str]:
        out = dict(self.labels)
        out["customer_id"] = self.customer_id
        out["severity"] = self.severity.value
        out["category"] = self.category.value
        if self.urgency is not None:
            out["urgency"] = self.urgency.value
        return dict(sorted(out.items()))


class CustomerAlert(Strict):
    """A CustomerAlert manifest (apiVersion alertplane.io/v1alpha1)."""

    model_config = Strict.model_config | {"alias_generator": None}

    api_version: Literal["alertplane.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["CustomerAlert"]
    metadata: ObjectMeta
    spec: CustomerAlertSpec
    status: dict[str, Any] | None = None

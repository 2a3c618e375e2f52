"""CustomerAlert: one Prometheus alerting rule owned by one customer."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from .authoring import MAX_TESTS, RuleTest, TemplateRef
from .common import (
    MAX_ANNOTATION,
    MAX_ENTRIES,
    AlertName,
    AnnotationText,
    CustomerId,
    Duration,
    LabelValue,
    ObjectMeta,
    Strict,
    fail,
    text,
)

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

    model_config = Strict.model_config | {
        "extra": "allow",
        "json_schema_extra": {"maxProperties": MAX_ENTRIES},
    }
    __pydantic_extra__: dict[str, AnnotationText] = Field(init=False)

    summary: str | None = text("One-line summary (Go template).", MAX_ANNOTATION)
    description: str | None = text("Details (Go template).", MAX_ANNOTATION)
    impact: str | None = text("What the customer is affected by.", MAX_ANNOTATION)
    action: str | None = text("What the responder should do.", MAX_ANNOTATION)
    runbook_url: str | None = text(
        "Runbook link; rendered as the runbook_url annotation.", MAX_ANNOTATION
    )

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > MAX_ENTRIES:
            raise fail(
                f"too many entries ({len(data)}): at most {MAX_ENTRIES}",
                "keep the annotations a responder reads; put the rest in the runbook",
            )
        return data

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
    # The API server refuses what the model refuses (_expr_or_template), also without the
    # webhook: a spec with neither would render nothing and say nothing.
    model_config = Strict.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.expr) || has(self.template)",
                    "message": "one of expr or template is required",
                }
            ]
        }
    }

    customer_id: CustomerId
    alert_name: AlertName
    category: Category = Field(description="application or infrastructure.")
    severity: Severity = Field(description="critical, warning or info.")
    urgency: Urgency | None = Field(None, description="high, medium or low.")
    enabled: bool = Field(True, description="Disabled alerts are kept but not rendered.")
    expr: str | None = Field(
        None,
        min_length=1,
        description='PromQL; every selector must carry customer_id="<customerId>". '
        "Either expr or template: with a template, alertplane writes the template's "
        "expression here (a value sent beside a template is replaced).",
    )
    template: TemplateRef | None = Field(
        None,
        description="A template of the platform's catalogue with its parameters, instead "
        "of expr (docs/authoring.md).",
    )
    auto_inject: bool = Field(
        False,
        description='Add customer_id="<customerId>" to every selector of expr that lacks it '
        "(on the parse tree, as alertplane import does) instead of refusing the expression.",
    )
    for_: Duration | None = Field(None, alias="for", description="Pending period.")
    keep_firing_for: Duration | None = Field(
        None, description="Keep firing this long after the condition clears (Prometheus ≥ 2.42)."
    )
    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Extra labels; customer_id, severity, category, urgency are reserved.",
    )
    annotations: Annotations = Field(default_factory=Annotations)
    tests: list[RuleTest] = Field(
        default_factory=list,
        max_length=MAX_TESTS,
        description="promtool unit tests of this alert, run at admission (docs/authoring.md).",
    )

    @model_validator(mode="after")
    def _expr_or_template(self) -> CustomerAlertSpec:
        if self.expr is None and self.template is None:
            raise fail(
                "one of expr or template is required",
                "write the PromQL in expr, or name a template of the platform's catalogue",
            )
        return self

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

"""CustomerSLO: a service level objective of one customer, rendered into burn-rate alerts.

The SLI is a ratio of event counts, as Sloth writes it: `errorQuery` (or `goodQuery`) over
`totalQuery`, each a PromQL expression with the placeholder `[{{.window}}]` where the
range goes; render/slo.py substitutes every window the multi-window multi-burn-rate alerts
of the Google SRE workbook read. validate/slo.py holds the rules a schema cannot express
(the placeholder, the isolation check of every query, the period's range).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .alert import Annotations, Category
from .common import (
    DNS_LABEL_RE,
    MAX_ENTRIES,
    AlertName,
    CustomerId,
    Duration,
    LabelValue,
    ObjectMeta,
    Strict,
    _checker,
    fail,
    is_dns_label,
    shown,
    text,
)

# Labels the rendered rules carry that a user value would break: routing and isolation
# (as on alerts), and the SLO's identity, window and alert kind the rules join on.
SLO_RESERVED_LABELS = (
    "customer_id",
    "severity",
    "category",
    "urgency",
    "slo",
    "slo_window",
    "slo_severity",
)
# Room for `<customerId>-slo-` in front of the name (the object name the API gives it).
MAX_SLO_NAME = 63

SLOName = Annotated[
    str,
    _checker(
        is_dns_label,
        lambda v: f"{shown(v)} is not a valid SLO name",
        "use lower-case letters, digits and '-', start and end with a letter or digit, at "
        f"most {MAX_SLO_NAME} characters (e.g. 'checkout-availability')",
        max_length=MAX_SLO_NAME,
    ),
    Field(
        pattern=DNS_LABEL_RE,
        max_length=MAX_SLO_NAME,
        json_schema_extra={"pattern": DNS_LABEL_RE},
        description="SLO name, unique per customer; the `slo` label of its rules.",
    ),
]


def _as_text(data: Any, keys: tuple[str, ...]) -> Any:
    # YAML turns `1` into an int; a query is text and is kept as written.
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in keys:
        value = out.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = str(value)
    return out


class SLIEvents(Strict):
    """Bad (or good) events over all events, each with `[{{.window}}]` as its range."""

    error_query: str | None = Field(
        None,
        min_length=1,
        description="PromQL counting failed events over [{{.window}}], e.g. "
        'sum(rate(http_requests_total{customer_id="acme",code=~"5.."}[{{.window}}])).',
    )
    good_query: str | None = Field(
        None,
        min_length=1,
        description="PromQL counting good events over [{{.window}}] (instead of errorQuery).",
    )
    total_query: str = Field(
        min_length=1, description="PromQL counting all events over [{{.window}}]."
    )

    @model_validator(mode="before")
    @classmethod
    def _queries_are_text(cls, data: Any) -> Any:
        return _as_text(data, ("errorQuery", "goodQuery", "totalQuery"))

    @model_validator(mode="after")
    def _one_of(self) -> SLIEvents:
        if (self.error_query is None) == (self.good_query is None):
            raise fail(
                "give exactly one of errorQuery and goodQuery",
                "errorQuery counts failed events, goodQuery successful ones; both are "
                "divided by totalQuery",
            )
        return self


class SLI(Strict):
    events: SLIEvents = Field(description="The SLI as a ratio of event counts.")


class SLOAlerting(Strict):
    """The two alerts: page (fast burn) and ticket (slow burn)."""

    page_alert_name: AlertName = Field(
        description="alertname of the page alert (severity critical): 14.4× burn over 1h "
        "and 5m, or 6× over 6h and 30m (for a 30d period)."
    )
    ticket_alert_name: AlertName = Field(
        description="alertname of the ticket alert (severity warning): 3× burn over 1d "
        "and 2h, or 1× over 3d and 6h (for a 30d period)."
    )
    category: Category = Field(
        Category.application, description="application or infrastructure (both alerts)."
    )
    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Extra labels of both alerts (routing by label); "
        + ", ".join(SLO_RESERVED_LABELS)
        + " are reserved.",
    )
    annotations: Annotations = Field(
        default_factory=Annotations,
        description="Annotations of both alerts; they replace the generated ones of the same key.",
    )


class CustomerSLOSpec(Strict):
    customer_id: CustomerId
    slo_name: SLOName = Field(alias="sloName")
    description: str | None = text("What the SLO promises, in words.", 1024)
    enabled: bool = Field(True, description="Disabled SLOs are kept but not rendered.")
    auto_inject: bool = Field(
        False,
        description='Add customer_id="<customerId>" to every selector of the SLI queries '
        "that lacks it instead of refusing the query.",
    )
    sli: SLI
    objective: float = Field(
        gt=0, lt=100, description="Target percentage of good events, e.g. 99.9 (0 < x < 100)."
    )
    period: Duration = Field(
        "30d", description="The SLO period (the error budget's window), 7d to 90d."
    )
    alerting: SLOAlerting


class CustomerSLO(Strict):
    """A CustomerSLO manifest (apiVersion alertplane.io/v1alpha1)."""

    model_config = Strict.model_config | {"alias_generator": None}

    api_version: Literal["alertplane.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["CustomerSLO"]
    metadata: ObjectMeta
    spec: CustomerSLOSpec
    status: dict[str, Any] | None = None

"""CustomerRecordingRule: one Prometheus recording rule owned by one customer.

Upstream mixins' alerts read recorded series (`job:http_errors:rate5m`); a customer's
recording rule records them from its own series only (its expr passes the same isolation
check as an alert's) and its output always carries `customer_id="<id>"` (forced in the
rendered rule's labels, which override whatever the expression yields), so an alert of
the customer that reads it, and no other customer's, sees it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from .common import (
    MAX_ENTRIES,
    CustomerId,
    LabelValue,
    ObjectMeta,
    Strict,
    fail,
    shown,
)

# A metric name with at least one colon. Prometheus reserves colons for recording rules
# ("level:metric:operations"); requiring one means a recorded series never has the name of
# a scraped metric (recording `http_requests_total` would add a second series to the
# customer's own counter and break every rate() over it) nor of Prometheus' own series
# (`ALERTS`, `up`, which the board and the customer's alerts read).
RECORD_RE = r"^([a-zA-Z_][a-zA-Z0-9_]*)?:[a-zA-Z0-9_:]*$"
MAX_RECORD = 189  # like an alert name: `<customerId>-<slug>-<hash>` stays a Kubernetes name
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# Labels alertplane sets on every recorded series: a user value would break isolation.
RECORDING_RESERVED_LABELS = ("customer_id",)


def _check_record(value: str) -> str:
    hint = (
        "name it level:metric:operations with letters, digits, '_' and ':', "
        "e.g. 'job:http_requests:rate5m'"
    )
    if not value:
        raise fail("the record name is empty", hint)
    if len(value) > MAX_RECORD:
        raise fail(f"{shown(value)} is too long: at most {MAX_RECORD} characters", hint)
    if _METRIC.fullmatch(value) is None:
        raise fail(f"{shown(value)} is not a valid metric name", hint)
    if ":" not in value:
        raise fail(
            f"{shown(value)} has no ':': a recorded series must not take the name of a "
            "scraped metric",
            hint,
        )
    return value


RecordName = Annotated[
    str,
    AfterValidator(_check_record),
    Field(
        pattern=RECORD_RE,
        max_length=MAX_RECORD,
        json_schema_extra={"pattern": RECORD_RE},
        description="Name of the recorded series (a metric name with at least one ':', e.g. "
        "job:http_requests:rate5m), unique per customer.",
    ),
]


class CustomerRecordingRuleSpec(Strict):
    customer_id: CustomerId
    record: RecordName
    expr: str = Field(
        min_length=1,
        description='PromQL; every selector must carry customer_id="<customerId>".',
    )
    auto_inject: bool = Field(
        False,
        description='Add customer_id="<customerId>" to every selector of expr that lacks it '
        "(on the parse tree, as alertplane import does) instead of refusing the expression.",
    )
    enabled: bool = Field(True, description="Disabled recording rules are kept but not rendered.")
    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Labels added to every recorded series; customer_id is reserved.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expr_is_text(cls, data: Any) -> Any:
        # YAML turns `expr: 1` into an int; PromQL is text and must be kept as written.
        expr = data.get("expr") if isinstance(data, dict) else None
        if isinstance(expr, int | float) and not isinstance(expr, bool):
            data = {**data, "expr": str(expr)}
        return data

    def rule_labels(self) -> dict[str, str]:
        """The rendered rule's labels: customer_id forced, whatever expr and labels say."""
        out = dict(self.labels)
        out["customer_id"] = self.customer_id
        return dict(sorted(out.items()))


class CustomerRecordingRule(Strict):
    """A CustomerRecordingRule manifest (apiVersion alertplane.io/v1alpha1)."""

    model_config = Strict.model_config | {"alias_generator": None}

    api_version: Literal["alertplane.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["CustomerRecordingRule"]
    metadata: ObjectMeta
    spec: CustomerRecordingRuleSpec
    status: dict[str, Any] | None = None

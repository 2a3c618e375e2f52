"""Request and response shapes, for validation of the small bodies and for OpenAPI.

Object specs are not declared as FastAPI bodies: they are parsed by the core
(`validate.parse_document`) so an error reads exactly like `alertplane validate`; their
OpenAPI schemas come from the same pydantic models (see `spec_body`).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..model import (
    KINDS,
    CustomerAlertSpec,
    CustomerReceiverSpec,
    CustomerRecordingRuleSpec,
    CustomerSLOSpec,
    Route,
)

COMPONENTS = "#/components/schemas/{model}"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EnabledIn(_In):
    enabled: bool


class RollbackIn(_In):
    version: int = Field(ge=1, le=2**31 - 1, description="The generation to restore.")


class RouteTestIn(_In):
    labels: dict[str, str] = Field(
        default_factory=dict,
        description='Alert labels; customer_id is the path\'s customer (e.g. {"severity": '
        '"critical", "category": "application"}).',
    )


class Problem(BaseModel):
    path: str = Field(description="Field path, e.g. spec.expr.")
    message: str
    hint: str
    text: str = Field(description="The line `alertplane validate` prints for this problem.")
    where: str | None = Field(
        None,
        description="Where the field is in a YAML body: `body:line:column` (absent for JSON "
        "bodies and single objects).",
    )


class ErrorOut(BaseModel):
    detail: str


class ProblemsOut(BaseModel):
    detail: str
    problems: list[Problem]


class Condition(BaseModel):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str


class StatusOut(BaseModel):
    observedGeneration: int
    phase: Literal["Synced", "Pending", "Invalid", "Failed", "Disabled"]
    conditions: list[Condition]
    renderedTo: list[str]
    lastSyncTime: str | None = None


class MetadataOut(BaseModel):
    name: str
    namespace: str
    labels: dict[str, str]
    generation: int


class ObjectOut(BaseModel):
    apiVersion: Literal["alertplane.io/v1alpha1"]
    # Every kind of the table (model/kinds.py); an enum in the schema, a str to pydantic.
    kind: str = Field(json_schema_extra={"enum": list(KINDS)})
    metadata: MetadataOut
    spec: dict[str, Any]
    status: StatusOut


class ObjectList(BaseModel):
    items: list[ObjectOut]


class CustomerOut(BaseModel):
    customerId: str
    alerts: int
    receivers: int
    recordingrules: int = Field(0, description="Recording rules (CustomerRecordingRule).")
    slos: int = Field(0, description="SLOs (CustomerSLO).")
    phases: dict[str, int] = Field(description="Objects per phase.")


class CustomerList(BaseModel):
    items: list[CustomerOut]


class AuditOut(BaseModel):
    id: int
    time: str
    action: str = Field(description="create update enable disable delete rollback")
    kind: str
    namespace: str
    name: str
    customerId: str
    generation: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: str
    source: str = Field(description="api import rollback cli kubectl")


class AuditList(BaseModel):
    items: list[AuditOut]


class FiringState(BaseModel):
    state: str
    silencedBy: list[str]
    inhibitedBy: list[str]


class FiringAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    fingerprint: str
    status: FiringState
    receivers: list[str]


class FiringList(BaseModel):
    items: list[FiringAlert]


class RouteTestOut(BaseModel):
    labels: dict[str, str] = Field(description="The labels routed, customer_id included.")
    receivers: list[str] = Field(description="The customer's receivers (receiverName).")
    alertmanagerReceivers: list[str] = Field(
        description="Alertmanager receiver names, as `amtool config routes test` prints them."
    )


class ChangeOut(BaseModel):
    kind: str
    namespace: str
    name: str
    action: str
    generation: int


class ValidateOut(BaseModel):
    valid: bool
    objects: int
    problems: list[Problem]
    refused: list[Problem] | None = Field(
        None, description="format=prometheus: rules and routes not converted, and why."
    )
    notes: list[Problem] | None = Field(
        None, description="format=prometheus: what was converted but not carried over whole."
    )


class ImportOut(BaseModel):
    applied: bool
    changes: list[ChangeOut]
    problems: list[Problem]
    refused: list[Problem] | None = Field(
        None, description="format=prometheus: rules and routes not converted, and why."
    )
    notes: list[Problem] | None = Field(
        None, description="format=prometheus: what was converted but not carried over whole."
    )


class ImportFailed(BaseModel):
    detail: str
    problems: list[Problem]
    applied: Literal[False] = False
    changes: list[ChangeOut] = Field(default_factory=list, max_length=0)


class Manifest(BaseModel):
    apiVersion: str
    kind: str
    metadata: dict[str, Any]
    spec: dict[str, Any]


class ManifestList(BaseModel):
    apiVersion: Literal["v1"]
    kind: Literal["List"]
    items: list[Manifest]


def _schema(
    model: type[BaseModel], optional: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=COMPONENTS)
    defs = schema.pop("$defs", {})
    schema["required"] = [r for r in schema.get("required", []) if r not in optional]
    return schema, defs


def spec_schemas() -> dict[str, dict[str, Any]]:
    """Component schemas of the request bodies that are object specs."""
    out: dict[str, dict[str, Any]] = {}
    for name, model, optional in (
        ("AlertSpecIn", CustomerAlertSpec, ("customerId",)),
        ("AlertSpecUpdate", CustomerAlertSpec, ("customerId", "alertName")),
        ("ReceiverSpecIn", CustomerReceiverSpec, ("customerId",)),
        ("ReceiverSpecUpdate", CustomerReceiverSpec, ("customerId", "receiverName")),
        ("RecordingRuleSpecIn", CustomerRecordingRuleSpec, ("customerId",)),
        ("RecordingRuleSpecUpdate", CustomerRecordingRuleSpec, ("customerId", "record")),
        ("SLOSpecIn", CustomerSLOSpec, ("customerId",)),
        ("SLOSpecUpdate", CustomerSLOSpec, ("customerId", "sloName")),
    ):
        schema, defs = _schema(model, optional)
        schema["title"] = name
        out[name] = schema
        out.update(defs)
    route, defs = _schema(Route, ())
    out.update(defs)
    out["RouteIn"] = route
    listed, defs = _schema(ManifestList, ())
    out.update(defs)
    out["ManifestList"] = listed
    out["RoutingIn"] = {
        "title": "RoutingIn",
        "type": "object",
        "additionalProperties": False,
        "required": ["routes"],
        "properties": {
            "routes": {
                "type": "object",
                "description": "receiverName → its new spec.route; other receivers keep theirs.",
                "additionalProperties": {"$ref": COMPONENTS.format(model="RouteIn")},
            }
        },
    }
    return copy.deepcopy(out)


def spec_body(component: str, description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON request body by component name."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": COMPONENTS.format(model=component)}}
            },
        }
    }


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route can give, for OpenAPI."""
    text = {
        401: "No or unknown bearer token.",
        403: "The token may not do this (e.g. import objects of another customer).",
        404: "Not found; also every path of a customer the token may not see.",
        409: "Already exists, or a name several objects share (or, for a PATCH, changed by "
        "other writers too often; retry; or a path names an alert of a warning/critical pair "
        "without ?severity=).",
        412: "If-Match names another generation than the object's: nothing was written.",
        413: "The body is too large.",
        422: "Invalid input: the problems, as `alertplane validate` reports them.",
        502: "Alertmanager did not answer.",
        503: "Alertmanager is not configured or the database is unavailable.",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        model = ProblemsOut if code in (403, 412, 422) else ErrorOut
        out[code] = {"model": model, "description": text[code]}
    return out

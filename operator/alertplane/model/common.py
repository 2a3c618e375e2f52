"""Field types shared by both resource kinds.

Each constrained string is an `Annotated` type whose validator raises a message a user can
act on, and whose JSON schema carries the same constraint so the generated CRDs enforce
it at admission too. (The pattern is repeated in `json_schema_extra` because pydantic
leaves it out of the JSON schema when it follows a validator; the checker must come first
so its message, not pydantic's regex error, is what a user sees.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

API_GROUP = "alertplane.io"
API_VERSION = f"{API_GROUP}/v1alpha1"

DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ALERT_NAME_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
LABEL_NAME_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# Prometheus' model.ParseDuration grammar (used by rules and by Alertmanager routes).
DURATION_RE = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)

_DNS_LABEL = re.compile(DNS_LABEL_RE)
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_RE)
_ALERT_NAME = re.compile(ALERT_NAME_RE)
_LABEL_NAME = re.compile(LABEL_NAME_RE)
_DURATION = re.compile(DURATION_RE)


def fail(message: str, hint: str = "") -> PydanticCustomError:
    """A validation error whose text survives pydantic untouched (no brace formatting)."""
    return PydanticCustomError("alertplane", "{message}", {"message": message, "hint": hint})


def _checker(ok: Callable[[str], bool], message: Callable[[str], str], hint: str) -> AfterValidator:
    def check(value: str) -> str:
        if not ok(value):
            raise fail(message(value), hint)
        return value

    return AfterValidator(check)


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and _DNS_LABEL.match(value) is not None


def is_label_name(value: str) -> bool:
    return _LABEL_NAME.match(value) is not None and not value.startswith("__")


def is_duration(value: str) -> bool:
    return value != "" and _DURATION.match(value) is not None


CustomerId = Annotated[
    str,
    _checker(
        is_dns_label,
        lambda v: f"{v!r} is not a valid customer id",
        "use lower-case letters, digits and '-', start and end with a letter or digit, "
        "at most 63 characters (e.g. 'acme')",
    ),
    Field(
        pattern=DNS_LABEL_RE,
        max_length=63,
        json_schema_extra={"pattern": DNS_LABEL_RE},
        description="Customer (tenant) id; every series of the customer carries "
        'customer_id="<id>".',
    ),
]

AlertName = Annotated[
    str,
    _checker(
        lambda v: _ALERT_NAME.match(v) is not None,
        lambda v: f"{v!r} is not a valid Prometheus alert name",
        "use letters, digits and '_', not starting with a digit (e.g. 'HighErrorRate')",
    ),
    Field(
        pattern=ALERT_NAME_RE,
        json_schema_extra={"pattern": ALERT_NAME_RE},
        description="Prometheus alert name, unique per customer.",
    ),
]

ReceiverName = Annotated[
    str,
    _checker(
        is_dns_label,
        lambda v: f"{v!r} is not a valid receiver name",
        "use lower-case letters, digits and '-', at most 63 characters (e.g. 'oncall')",
    ),
    Field(
        pattern=DNS_LABEL_RE,
        max_length=63,
        json_schema_extra={"pattern": DNS_LABEL_RE},
        description="Receiver name, unique per customer.",
    ),
]

Duration = Annotated[
    str,
    _checker(
        is_duration,
        lambda v: f"{v!r} is not a valid duration",
        "use a Prometheus duration such as 30s, 5m, 1h30m or 7d",
    ),
    Field(
        pattern=DURATION_RE,
        json_schema_extra={"pattern": DURATION_RE},
        description="Prometheus duration, e.g. 30s, 5m, 1h30m.",
    ),
]

LabelName = Annotated[
    str,
    _checker(
        is_label_name,
        lambda v: f"{v!r} is not a valid label name",
        "use letters, digits and '_', not starting with a digit or '__'",
    ),
]


class Strict(BaseModel):
    """Base for every spec part: camelCase field names, unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, alias_generator=lambda n: camel(n)
    )


class ObjectMeta(BaseModel):
    """The part of Kubernetes metadata alertplane reads; the rest is kept and ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    name: Annotated[
        str,
        _checker(
            lambda v: len(v) <= 253 and _DNS_SUBDOMAIN.match(v) is not None,
            lambda v: f"{v!r} is not a valid object name",
            "use lower-case letters, digits, '-' and '.' (e.g. 'acme-high-error-rate')",
        ),
    ]
    namespace: Annotated[
        str,
        _checker(
            is_dns_label,
            lambda v: f"{v!r} is not a valid namespace",
            "use lower-case letters, digits and '-', at most 63 characters",
        ),
    ] = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def dump_spec(model: BaseModel) -> dict[str, Any]:
    """The spec as a user wrote it: camelCase keys, unset optional fields left out."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")

"""Field types shared by both resource kinds.

Each constrained string is an `Annotated` type whose validator raises a message a user can
act on, and whose JSON schema carries the same constraint so the generated CRDs enforce
it at admission too. (The pattern is repeated in `json_schema_extra` because pydantic
leaves it out of the JSON schema when it follows a validator; the checker must come first
so its message, not pydantic's regex error, is what a user sees.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

API_GROUP = "alertplane.io"
API_VERSION = f"{API_GROUP}/v1alpha1"

DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# An alert name is a label value to Prometheus (`alertname`): any UTF-8 text. Refused are
# only characters that garble the one line per name every door prints (control characters:
# NUL, newlines, tabs, C1; the Unicode line and paragraph separators) and the
# bidirectional controls that make a name display as another ("Trojan Source"). In RE2
# and Rust regex syntax: the CRD's API server (Go) and pydantic (Rust) read the same
# pattern; Python's `re` gets its own spelling below.
_ALERT_NAME_NOT = (
    r"\p{Cc}\x{2028}\x{2029}\x{061C}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}"
)
ALERT_NAME_RE = rf"^[^{_ALERT_NAME_NOT}]+$"
LABEL_NAME_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# Prometheus' model.ParseDuration grammar (used by rules and by Alertmanager routes).
DURATION_RE = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)

# A Kubernetes Secret / ConfigMap key (IsConfigMapKey): [-._a-zA-Z0-9]+, and not '.', '..' or
# starting with '..'. Written so that no key is a path step: no '/', never '.' or '..'.
SECRET_KEY_RE = r"^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$"
MAX_NAME = 253  # a Kubernetes object name (DNS subdomain) and a Secret key
# The API names an alert's object `<customerId>-<alertName lower, _→->`: with a customer id of
# at most 63 characters this keeps it a Kubernetes name of at most 253 (service/objects.py).
MAX_ALERT_NAME = MAX_NAME - 63 - 1
MAX_LABEL_NAME = 128
# Prometheus/Alertmanager parse durations into Go's time.Duration (int64 nanoseconds) and
# refuse more ("duration out of range"; measured with promtool 2.42 and amtool 0.25 in
# tests/adversarial/test_names_and_limits.py).
MAX_DURATION_MS = (2**63 - 1) // 1_000_000
MAX_DURATION = "292y24w3d23h47m16s854ms"
MAX_DURATION_LENGTH = 64
# Sizes real use never reaches (the largest upstream mixins stay far below), so that no
# single object can grow without bound: maps of labels/annotations, their values, lists.
MAX_ENTRIES = 64  # labels, annotations, route match labels, groupBy, email recipients
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION = 16 * 1024
MAX_TEMPLATE = 64 * 1024  # a receiver template (an inlined HTML e-mail body is the largest)
MAX_URL = 2048
MAX_CHANNELS = 32  # per channel kind of one receiver
MAX_PRIORITY = 1_000_000
# Checked with fullmatch: Python's `$` also matches before a final newline (`acme\n`).
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000, 1)
_DNS_LABEL = re.compile(DNS_LABEL_RE)
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_RE)
_ALERT_NAME_BAD = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_LABEL_NAME = re.compile(LABEL_NAME_RE)
_DURATION = re.compile(DURATION_RE)
_SECRET_KEY = re.compile(SECRET_KEY_RE)


def fail(message: str, hint: str = "") -> PydanticCustomError:
    """A validation error whose text survives pydantic untouched (no brace formatting)."""
    return PydanticCustomError("alertplane", "{message}", {"message": message, "hint": hint})


def shown(value: str) -> str:
    """A value quoted for a message, shortened when long: a 100 KB name is no message."""
    if len(value) <= 60:
        return repr(value)
    return f"{value[:40]!r}… ({len(value)} characters)"


# The fields that hold a secret, or say where one is: a value found there is never quoted in
# a message (a routing key pasted into `routingKeySecretRef`, a Slack URL into its `name`),
# since messages reach responses, statuses, events and logs (validate/schema.py).
SECRET_FIELD_NAMES = frozenset({"apiURL", "routingKey", "apiURLSecretRef", "routingKeySecretRef"})


def in_secret_field(loc: Sequence[int | str]) -> bool:
    """Whether the value at this field path is (part of) a secret field."""
    return any(part in SECRET_FIELD_NAMES for part in loc)


def unquoted(value: str) -> str:
    """A value in a secret field, described without any of its characters."""
    return f"a value of {len(value)} characters" if value else "an empty value"


def _checker(
    ok: Callable[[str], bool],
    message: Callable[[str], str],
    hint: str,
    max_length: int | None = None,
    echo: Callable[[str], str] = shown,
) -> AfterValidator:
    def check(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise fail(f"{echo(value)} is too long: at most {max_length} characters", hint)
        if not ok(value):
            raise fail(message(value), hint)
        return value

    return AfterValidator(check)


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= MAX_NAME and _DNS_SUBDOMAIN.fullmatch(value) is not None


def is_secret_key(value: str) -> bool:
    return len(value) <= MAX_NAME and _SECRET_KEY.fullmatch(value) is not None


def is_label_name(value: str) -> bool:
    return (
        len(value) <= MAX_LABEL_NAME
        and _LABEL_NAME.fullmatch(value) is not None
        and not value.startswith("__")
    )


def is_duration(value: str) -> bool:
    return value != "" and _DURATION.fullmatch(value) is not None


def duration_ms(value: str) -> int:
    """Milliseconds of a duration in Prometheus' syntax (`is_duration`)."""
    found = _DURATION.fullmatch(value)
    if found is None:
        raise ValueError(f"not a duration: {value!r}")
    numbers = found.group(3, 5, 7, 9, 11, 13, 15)
    return sum(int(n) * unit for n, unit in zip(numbers, _UNIT_MS, strict=True) if n)


def _check_duration(value: str) -> str:
    hint = "use a Prometheus duration such as 30s, 5m, 1h30m or 7d"
    if len(value) > MAX_DURATION_LENGTH:
        raise fail(f"{shown(value)} is too long: at most {MAX_DURATION_LENGTH} characters", hint)
    if not is_duration(value):
        raise fail(f"{shown(value)} is not a valid duration", hint)
    if duration_ms(value) > MAX_DURATION_MS:
        raise fail(
            f"{shown(value)} is too long: a duration is at most {MAX_DURATION} (about 292 "
            "years, the most Prometheus and Alertmanager accept)",
            "use a shorter duration",
        )
    return value


# The same bound for the API server: CEL sums the duration's parts in milliseconds (as
# doubles: exact below 2**53, and no overflow for absurd inputs the pattern lets through).
_DURATION_CEL = (
    "self == '0' || self.findAll('[0-9]+(ms|[ywdhms])').map(t, double(t.find('[0-9]+')) * "
    "(t.endsWith('ms') ? 1.0 : t.endsWith('y') ? 31536000000.0 : t.endsWith('w') ? "
    "604800000.0 : t.endsWith('d') ? 86400000.0 : t.endsWith('h') ? 3600000.0 : "
    f"t.endsWith('m') ? 60000.0 : 1000.0)).sum() <= {MAX_DURATION_MS}.0"
)


CustomerId = Annotated[
    str,
    _checker(
        lambda v: _DNS_LABEL.fullmatch(v) is not None,
        lambda v: f"{shown(v)} is not a valid customer id",
        "use lower-case letters, digits and '-', start and end with a letter or digit, "
        "at most 63 characters (e.g. 'acme')",
        max_length=63,
    ),
    Field(
        pattern=DNS_LABEL_RE,
        max_length=63,
        json_schema_extra={"pattern": DNS_LABEL_RE},
        description="Customer (tenant) id; every series of the customer carries "
        'customer_id="<id>".',
    ),
]


def _check_alert_name(value: str) -> str:
    hint = (
        f"any text of 1 to {MAX_ALERT_NAME} characters on one line, e.g. 'HighErrorRate' or "
        "'Disk > 90%'"
    )
    if not value:
        raise fail("the alert name is empty", hint)
    if len(value) > MAX_ALERT_NAME:
        raise fail(f"{shown(value)} is too long: at most {MAX_ALERT_NAME} characters", hint)
    bad = _ALERT_NAME_BAD.search(value)
    if bad is not None:
        char, at = bad.group(), bad.start() + 1
        what = {"Cc": "a control", "Zl": "a line separator", "Zp": "a paragraph separator"}.get(
            unicodedata.category(char), "a bidirectional control"
        )
        raise fail(
            f"{shown(value)} contains {what} character (U+{ord(char):04X}) at character {at}",
            "remove it: an alert name is one line of text that displays as it is stored",
        )
    return value


AlertName = Annotated[
    str,
    AfterValidator(_check_alert_name),
    Field(
        pattern=ALERT_NAME_RE,
        max_length=MAX_ALERT_NAME,
        json_schema_extra={"pattern": ALERT_NAME_RE},
        description="Alert name (Prometheus' alertname label): any text on one line, unique "
        f"per customer (at most {MAX_ALERT_NAME} characters).",
    ),
]

ReceiverName = Annotated[
    str,
    _checker(
        lambda v: _DNS_LABEL.fullmatch(v) is not None,
        lambda v: f"{shown(v)} is not a valid receiver name",
        "use lower-case letters, digits and '-', at most 63 characters (e.g. 'oncall')",
        max_length=63,
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
    AfterValidator(_check_duration),
    Field(
        pattern=DURATION_RE,
        max_length=MAX_DURATION_LENGTH,
        json_schema_extra={
            "pattern": DURATION_RE,
            "x-kubernetes-validations": [
                {
                    "rule": _DURATION_CEL,
                    "message": f"a duration is at most {MAX_DURATION} (about 292 years, the "
                    "most Prometheus and Alertmanager accept)",
                    "reason": "FieldValueInvalid",
                }
            ],
        },
        description=f"Prometheus duration, e.g. 30s, 5m, 1h30m; at most {MAX_DURATION}.",
    ),
]

SecretName = Annotated[
    str,
    _checker(
        lambda v: _DNS_SUBDOMAIN.fullmatch(v) is not None,
        lambda v: f"{unquoted(v)} is not a valid Secret name",
        "name a Kubernetes Secret in the same namespace: lower-case letters, digits, '-' and "
        f"'.', starting and ending with a letter or digit, at most {MAX_NAME} characters "
        "(e.g. 'acme-slack')",
        max_length=MAX_NAME,
        echo=unquoted,
    ),
    Field(
        pattern=DNS_SUBDOMAIN_RE,
        max_length=MAX_NAME,
        json_schema_extra={"pattern": DNS_SUBDOMAIN_RE},
        description="Secret name (same namespace).",
    ),
]

SecretKey = Annotated[
    str,
    _checker(
        lambda v: _SECRET_KEY.fullmatch(v) is not None,
        lambda v: f"{unquoted(v)} is not a valid Secret key",
        "name a key of the Secret: letters, digits, '-', '_' and '.', no '/', not '.' or '..' "
        f"and not starting with '..', at most {MAX_NAME} characters (e.g. 'url')",
        max_length=MAX_NAME,
        echo=unquoted,
    ),
    Field(
        pattern=SECRET_KEY_RE,
        max_length=MAX_NAME,
        json_schema_extra={"pattern": SECRET_KEY_RE},
        description="Key inside the Secret.",
    ),
]

LabelName = Annotated[
    str,
    _checker(
        is_label_name,
        lambda v: f"{shown(v)} is not a valid label name",
        f"use letters, digits and '_', not starting with a digit or '__', at most "
        f"{MAX_LABEL_NAME} characters",
    ),
]


LabelValue = Annotated[str, Field(max_length=MAX_LABEL_VALUE)]
AnnotationText = Annotated[str, Field(max_length=MAX_ANNOTATION)]


def text(description: str, limit: int = MAX_TEMPLATE) -> Any:
    """An optional bounded string field."""
    return Field(None, max_length=limit, description=description)


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
            is_dns_subdomain,
            lambda v: f"{shown(v)} is not a valid object name",
            "use lower-case letters, digits, '-' and '.' (e.g. 'acme-high-error-rate')",
        ),
    ]
    namespace: Annotated[
        str,
        _checker(
            is_dns_label,
            lambda v: f"{shown(v)} is not a valid namespace",
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

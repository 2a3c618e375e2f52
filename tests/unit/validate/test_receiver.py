"""CustomerReceiver validation: every rule, asserted as the exact line `validate` prints.

Sources: `validate.schema` (pydantic errors and the checks of `model.common`),
`validate.fields.check_receiver` (channels, addresses, URLs, secrets, PagerDuty severity,
`{{ define }}`, route labels and groupBy) and the platform's SMTP check in
`validate.validate_objects`. Uniqueness and amtool template checks are in
tests/unit/validate/test_unique.py and tests/integration/test_validate_templates.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import DROP, MAIL, REF, platform_global, receiver
from tests.support.problems import lines

R = "CustomerReceiver acme/acme-oncall: "
LABEL_HINT = "use letters, digits and '_', not starting with a digit or '__'"
DURATION_HINT = "use a Prometheus duration such as 30s, 5m, 1h30m or 7d"
NO_HOOK: dict[str, Any] = {"webhook": []}
DEFINE = '{{- define "mine" }}x{{ end }}'
CHANNEL: dict[str, dict[str, Any]] = {
    "email": {"to": ["ops@acme.example"]},
    "slack": {"apiURLSecretRef": REF},
    "pagerduty": {"routingKeySecretRef": REF},
}
TEMPLATE_FIELDS = [
    ("email", "subjectTemplate"),
    ("email", "htmlTemplate"),
    ("email", "textTemplate"),
    ("slack", "titleTemplate"),
    ("slack", "textTemplate"),
    ("pagerduty", "description"),
    ("pagerduty", "severity"),
]


SCHEMA = [
    (
        "customer-id",
        receiver(customerId="ACME"),
        "spec.customerId: 'ACME' is not a valid customer id; use lower-case letters, digits "
        "and '-', start and end with a letter or digit, at most 63 characters (e.g. 'acme')",
    ),
    (
        "receiver-name-pattern",
        receiver(receiverName="On_Call"),
        "spec.receiverName: 'On_Call' is not a valid receiver name; use lower-case letters, "
        "digits and '-', at most 63 characters (e.g. 'oncall')",
    ),
    (
        "receiver-name-64-chars",
        receiver(receiverName="r" * 64),
        f"spec.receiverName: {'r' * 40!r}… (64 characters) is too long: at most 63 characters; "
        "use lower-case "
        "letters, digits and '-', at most 63 characters (e.g. 'oncall')",
    ),
    (
        "receiver-name-missing",
        receiver(receiverName=DROP),
        "spec.receiverName: required field is missing; add receiverName",
    ),
    (
        "channel-not-a-list",
        receiver(webhook={"url": "https://h.example"}),
        "spec.webhook: expected a list, got a mapping; write a list here",
    ),
    (
        "email-entry-not-a-mapping",
        receiver(email=["ops@acme.example"]),
        "spec.email[0]: expected a mapping, got the string 'ops@acme.example'; "
        "write a mapping here",
    ),
    (
        "email-to-empty",
        receiver(email=[{"to": []}]),
        "spec.email[0].to: must not be empty; give at least one value",
    ),
    (
        "email-to-string",
        receiver(email=[{"to": "ops@acme.example"}]),
        "spec.email[0].to: expected a list, got the string 'ops@acme.example'; write a list here",
    ),
    (
        "email-to-missing",
        receiver(email=[{"subjectTemplate": "x"}]),
        "spec.email[0].to: required field is missing; add to",
    ),
    (
        "send-resolved",
        receiver(email=[{"to": ["a@b.example"], "sendResolved": "sometimes"}]),
        "spec.email[0].sendResolved: expected true or false, got the string 'sometimes'; "
        "write true or false here",
    ),
    (
        "secret-ref-empty-name",
        receiver(**NO_HOOK, slack=[{"apiURLSecretRef": {"name": "", "key": "k"}}]),
        "spec.slack[0].apiURLSecretRef.name: an empty value is not a valid Secret name; name a "
        "Kubernetes Secret in the same namespace: lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit, at most 253 characters (e.g. 'acme-slack')",
    ),
    (
        "secret-ref-key-missing",
        receiver(**NO_HOOK, pagerduty=[{"routingKeySecretRef": {"name": "pd"}}]),
        "spec.pagerduty[0].routingKeySecretRef.key: required field is missing; add key",
    ),
    (
        "slack-field-typo",
        receiver(**NO_HOOK, slack=[{"apiUrl": "https://hooks.slack.com/x"}]),
        "spec.slack[0].apiUrl: unknown field; did you mean apiURL?",
    ),
    (
        "slack-python-field-name",
        receiver(**NO_HOOK, slack=[{"api_url": "https://hooks.slack.com/x"}]),
        "spec.slack[0].api_url: unknown field; did you mean apiURL?",
    ),
    (
        "route-snake-case",
        receiver(route={"group_by": ["service"]}),
        "spec.route.group_by: unknown field; did you mean groupBy?",
    ),
    (
        "webhook-url-missing",
        receiver(webhook=[{}]),
        "spec.webhook[0].url: required field is missing; add url",
    ),
    (
        "unknown-channel",
        receiver(opsgenie=[{"apiKey": "x"}]),
        "spec.opsgenie: unknown field; remove it; allowed here: customerId, receiverName, "
        "email, slack, pagerduty, webhook, route, inhibitRules, timeIntervals",
    ),
    # --- route
    (
        "route-not-a-mapping",
        receiver(route=[]),
        "spec.route: expected a mapping, got a list; write a mapping here",
    ),
    (
        "priority-float",
        receiver(route={"priority": 1.5}),
        "spec.route.priority: expected an integer, got the number 1.5; write an integer here",
    ),
    (
        "priority-string",
        receiver(route={"priority": "high"}),
        "spec.route.priority: expected an integer, got the string 'high'; write an integer here",
    ),
    (
        "priority-infinite",
        receiver(route={"priority": float("inf")}),
        "spec.route.priority: expected an integer, got the number inf; write an integer here",
    ),
    (
        "continue",
        receiver(route={"continue": "maybe"}),
        "spec.route.continue: expected true or false, got the string 'maybe'; "
        "write true or false here",
    ),
    *[
        (
            f"route-{field}",
            receiver(route={field: "5 m"}),
            f"spec.route.{field}: '5 m' is not a valid duration; {DURATION_HINT}",
        )
        for field in ("groupWait", "groupInterval", "repeatInterval")
    ],
    (
        "match-severity",
        receiver(route={"match": {"severity": ["critical", "page"]}}),
        "spec.route.match.severity[1]: 'page' is not allowed; use one of 'critical', "
        "'warning' or 'info'",
    ),
    (
        "match-severity-not-a-list",
        receiver(route={"match": {"severity": "critical"}}),
        "spec.route.match.severity: expected a list, got the string 'critical'; write a list here",
    ),
    (
        "match-category",
        receiver(route={"match": {"category": ["infra"]}}),
        "spec.route.match.category[0]: 'infra' is not allowed; use one of 'application' or "
        "'infrastructure'",
    ),
    (
        "match-label-value",
        receiver(route={"match": {"labels": {"team": 5}}}),
        "spec.route.match.labels.team: expected a string, got the number 5; quote it",
    ),
    (
        "match-typo",
        receiver(route={"matchers": {}}),
        "spec.route.matchers: unknown field; did you mean match?",
    ),
]

FIELDS = [
    (
        "no-channel",
        receiver(**NO_HOOK),
        "spec: no notification channel; add at least one of spec.email, spec.slack, "
        "spec.pagerduty, spec.webhook",
    ),
    *[
        (
            f"email-address-{i}",
            receiver(email=[{"to": ["ok@acme.example", address]}]),
            f"spec.email[0].to[1]: {address!r} is not an email address; write it as "
            "name@example.com",
        )
        for i, address in enumerate(("ops", "ops@acme", "o ps@acme.example", "a@b@c.example"))
    ],
    (
        "slack-url-and-secret",
        receiver(slack=[{"apiURL": "https://hooks.slack.com/x", "apiURLSecretRef": REF}]),
        "spec.slack[0].apiURL: both apiURL and apiURLSecretRef are set; keep only apiURLSecretRef",
    ),
    (
        "slack-without-url",
        receiver(slack=[{"channel": "#ops"}]),
        "spec.slack[0]: apiURLSecretRef is required; reference the Secret key holding it: "
        "apiURLSecretRef: {name, key}",
    ),
    *[
        (
            f"slack-url-{i}",
            receiver(slack=[{"apiURL": url}]),
            "spec.slack[0].apiURL: not an http(s) URL; use the incoming-webhook URL, e.g. "
            "https://hooks.slack.com/services/…",
        )
        for i, url in enumerate(("hooks.slack.com/services/x", "ftp://hooks.slack.com", "https://"))
    ],
    (
        "pagerduty-key-and-secret",
        receiver(pagerduty=[{"routingKey": "k", "routingKeySecretRef": REF}]),
        "spec.pagerduty[0].routingKey: both routingKey and routingKeySecretRef are set; "
        "keep only routingKeySecretRef",
    ),
    (
        "pagerduty-without-key",
        receiver(pagerduty=[{"severity": "critical"}]),
        "spec.pagerduty[0]: routingKeySecretRef is required; reference the Secret key holding "
        "it: routingKeySecretRef: {name, key}",
    ),
    (
        "pagerduty-severity",
        receiver(pagerduty=[{"routingKeySecretRef": REF, "severity": "high"}]),
        "spec.pagerduty[0].severity: 'high' is not a PagerDuty severity; use one of critical, "
        "error, warning, info or a template",
    ),
    *[
        (
            f"webhook-url-{i}",
            receiver(webhook=[{"url": url}]),
            f"spec.webhook[0].url: {url!r} is not an http(s) URL; give an absolute URL such as "
            "https://hooks.example.com/alerts",
        )
        for i, url in enumerate(("hooks.example.com:9000/a", "ftp://h.example", "http://", ""))
    ],
    *[
        (
            f"define-in-{channel}[0].{field}",
            receiver(**{channel: [{**CHANNEL[channel], field: DEFINE}]}),
            f"spec.{channel}[0].{field}: templates may not define named templates "
            '({{ define }}/{{ block }}); inline the text, or use {{ template "name" . }} to '
            "call an existing one",
        )
        for channel, field in TEMPLATE_FIELDS
    ],
    (
        "route-customer-id",
        receiver(route={"match": {"labels": {"customer_id": "acme"}}}),
        "spec.route.match.labels.customer_id: routes are already limited to this customer; "
        "remove customer_id from match.labels",
    ),
    *[
        (
            f"route-label-{name}",
            receiver(route={"match": {"labels": {name: "x"}}}),
            f"spec.route.match.labels.{name}: '{name}' has its own field; use "
            f"spec.route.match.{name} (a list)",
        )
        for name in ("severity", "category")
    ],
    (
        "route-label-name",
        receiver(route={"match": {"labels": {"team-name": "x"}}}),
        f"spec.route.match.labels.team-name: 'team-name' is not a valid label name; {LABEL_HINT}",
    ),
    (
        "group-by-label-name",
        receiver(route={"groupBy": ["alertname", "1st"]}),
        f"spec.route.groupBy[1]: '1st' is not a valid label name; {LABEL_HINT}",
    ),
    (
        "group-by-all-combined",
        receiver(route={"groupBy": ["...", "alertname"]}),
        "spec.route.groupBy: '...' groups by all labels and cannot be combined; use either "
        "['...'] or a list of label names",
    ),
    (
        "group-by-duplicate",
        receiver(route={"groupBy": ["alertname", "alertname"]}),
        "spec.route.groupBy[1]: 'alertname' is listed twice; list each label once "
        "(Alertmanager refuses duplicates)",
    ),
    (
        "group-interval-zero",
        receiver(route={"groupInterval": "0s"}),
        "spec.route.groupInterval: groupInterval cannot be zero; use a positive duration such "
        "as 5m, or leave it unset for the default",
    ),
    (
        "repeat-interval-zero",
        receiver(route={"repeatInterval": "0m0s"}),
        "spec.route.repeatInterval: repeatInterval cannot be zero; use a positive duration such "
        "as 5m, or leave it unset for the default",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in SCHEMA], ids=[c[0] for c in SCHEMA])
def test_schema_rule(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [R + expected]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in FIELDS], ids=[c[0] for c in FIELDS])
def test_field_rule(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [R + expected]


def test_several_channels_are_each_checked() -> None:
    doc = receiver(
        email=[{"to": ["ops"]}],
        slack=[{"apiURLSecretRef": REF}, {"channel": "#x"}],
        webhook=[{"url": "https://ok.example"}, {"url": "nope"}],
    )
    assert lines(doc) == [
        R + "spec.email[0].to[0]: 'ops' is not an email address; write it as name@example.com",
        R + "spec.slack[1]: apiURLSecretRef is required; reference the Secret key holding it: "
        "apiURLSecretRef: {name, key}",
        R + "spec.webhook[1].url: 'nope' is not an http(s) URL; give an absolute URL such as "
        "https://hooks.example.com/alerts",
    ]


# --- the platform's SMTP settings (only known with --platform-config)

SMTP = (
    "spec.email: the platform has no SMTP server configured; ask the platform team to set "
    "alertmanager.global.smtp_smarthost and smtp_from, or use another channel"
)


def test_email_without_smtp_is_invalid_when_the_platform_is_known() -> None:
    assert lines(receiver(**MAIL), platform=platform_global()) == [R + SMTP]


def test_email_needs_both_smarthost_and_from() -> None:
    only_host = platform_global(smtp_smarthost="mail:25")
    only_from = platform_global(smtp_from="alerts@x.example")
    assert lines(receiver(**MAIL), platform=only_host) == [R + SMTP]
    assert lines(receiver(**MAIL), platform=only_from) == [R + SMTP]


def test_smtp_is_not_checked_without_a_platform_config() -> None:
    assert lines(receiver(**MAIL)) == []


def test_receivers_without_email_do_not_need_smtp() -> None:
    assert lines(receiver(), platform=platform_global()) == []

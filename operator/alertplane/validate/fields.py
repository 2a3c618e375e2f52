"""Per-object rules that a JSON schema cannot express: reserved labels, channels, URLs."""

from __future__ import annotations

import difflib
import re
from urllib.parse import urlsplit

from ..errors import Problem
from ..model import (
    KNOWN_ANNOTATIONS,
    RESERVED_LABELS,
    CustomerAlert,
    CustomerReceiver,
    CustomerReceiverSpec,
    SecretKeyRef,
)
from ..model.common import is_label_name
from .am_primitives import check_am_primitives
from .amurl import alertmanager_accepts_url
from .promql import check_expr
from .template_limits import check_template_limits
from .template_queries import check_template_queries
from .unicode import path_key

# A customer template is executed in Alertmanager's one global template namespace; a
# `define` or `block` there could replace a template another customer relies on. In an alert
# label or annotation, a named template that calls itself twice runs for ever in Prometheus.
_DEFINE = re.compile(r"\{\{-?\s*(define|block)\b")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def check_alert(obj: CustomerAlert) -> list[Problem]:
    spec = obj.spec
    # No expr: a template that could not be instantiated, and admission says why.
    problems = check_expr(spec.expr, spec.customer_id) if spec.expr is not None else []
    for key in spec.labels:
        path = f"spec.labels.{path_key(key)}"
        if key in RESERVED_LABELS:
            field = "customerId" if key == "customer_id" else key
            problems.append(
                Problem(path, f"label {key!r} is set by alertplane", f"remove it; set spec.{field}")
            )
        elif not is_label_name(key):
            problems.append(_bad_label_name(path, key))
        problems.extend(_no_define(path, spec.labels[key]))
        problems.extend(check_template_queries(path, spec.labels[key], spec.customer_id))
    free = spec.annotations.__pydantic_extra__ or {}
    for key in free:
        path = f"spec.annotations.{path_key(key)}"
        known = _known_annotation(key)
        if known is not None:
            problems.append(
                Problem(path, f"annotation {key!r} looks like {known!r}", f"rename it to {known}")
            )
        elif not is_label_name(key):
            problems.append(_bad_label_name(path, key))
    runbook = spec.annotations.runbook_url
    if runbook is not None and "{{" not in runbook and not _is_http_url(runbook):
        problems.append(
            Problem(
                "spec.annotations.runbookUrl",
                f"{runbook!r} is not an http(s) URL",
                "give an absolute URL such as https://runbooks.example.com/disk-full",
            )
        )
    templates = [(f"spec.labels.{path_key(k)}", v, False) for k, v in spec.labels.items()]
    for key, value in spec.annotations.rendered().items():
        path = f"spec.annotations.{path_key(_annotation_field(key))}"
        problems.extend(_no_define(path, value))
        problems.extend(check_template_queries(path, value, spec.customer_id))
        templates.append((path, value, False))
    problems.extend(check_template_limits(templates))
    return problems


def check_receiver(obj: CustomerReceiver) -> list[Problem]:
    spec = obj.spec
    problems: list[Problem] = []
    if spec.channel_count() == 0:
        problems.append(
            Problem(
                "spec",
                "no notification channel",
                "add at least one of spec.email, spec.slack, spec.pagerduty, spec.webhook",
            )
        )
    problems.extend(_check_channels(spec))
    templates = receiver_templates(obj)
    for path, text in templates:
        problems.extend(_no_define(path, text))
    templates += _templated_values(obj)
    problems.extend(
        check_template_limits([(p, t, p.endswith("htmlTemplate")) for p, t in templates])
    )
    problems.extend(_check_route(obj))
    problems.extend(check_am_primitives(obj.spec))
    return problems


def _check_channels(spec: CustomerReceiverSpec) -> list[Problem]:
    """The addresses, URLs, secrets and severities of each notification channel."""
    problems: list[Problem] = []
    for i, email in enumerate(spec.email):
        for j, address in enumerate(email.to):
            if not _EMAIL.match(address):
                problems.append(
                    Problem(
                        f"spec.email[{i}].to[{j}]",
                        f"{address!r} is not an email address",
                        "write it as name@example.com",
                    )
                )
    for i, slack in enumerate(spec.slack):
        path = f"spec.slack[{i}]"
        problems.extend(_one_secret(path, "apiURL", slack.api_url, slack.api_url_secret_ref))
        if slack.api_url is not None and not _is_alertmanager_url(slack.api_url):
            problems.append(
                Problem(
                    f"{path}.apiURL",
                    "not an http(s) URL",
                    "use the incoming-webhook URL, e.g. https://hooks.slack.com/services/…",
                )
            )
    for i, pd in enumerate(spec.pagerduty):
        path = f"spec.pagerduty[{i}]"
        problems.extend(_one_secret(path, "routingKey", pd.routing_key, pd.routing_key_secret_ref))
        sev = pd.severity
        if sev is not None and "{{" not in sev and sev not in PAGERDUTY_SEVERITIES:
            problems.append(
                Problem(
                    f"{path}.severity",
                    f"{sev!r} is not a PagerDuty severity",
                    f"use one of {', '.join(PAGERDUTY_SEVERITIES)} or a template",
                )
            )
    for i, hook in enumerate(spec.webhook):
        if not _is_alertmanager_url(hook.url):
            problems.append(
                Problem(
                    f"spec.webhook[{i}].url",
                    f"{hook.url!r} is not an http(s) URL",
                    "give an absolute URL such as https://hooks.example.com/alerts",
                )
            )
    return problems


def receiver_templates(obj: CustomerReceiver) -> list[tuple[str, str]]:
    """(field path, template text) of every Alertmanager template the receiver carries."""
    out: list[tuple[str, str]] = []

    def add(path: str, value: str | None) -> None:
        if value is not None:
            out.append((path, value))

    spec = obj.spec
    for i, e in enumerate(spec.email):
        add(f"spec.email[{i}].subjectTemplate", e.subject_template)
        add(f"spec.email[{i}].htmlTemplate", e.html_template)
        add(f"spec.email[{i}].textTemplate", e.text_template)
    for i, s in enumerate(spec.slack):
        add(f"spec.slack[{i}].titleTemplate", s.title_template)
        add(f"spec.slack[{i}].textTemplate", s.text_template)
    for i, p in enumerate(spec.pagerduty):
        add(f"spec.pagerduty[{i}].description", p.description)
        if p.severity is not None and "{{" in p.severity:
            add(f"spec.pagerduty[{i}].severity", p.severity)
    return out


def _templated_values(obj: CustomerReceiver) -> list[tuple[str, str]]:
    """Plain-looking fields that Alertmanager also expands as templates on every
    notification: e-mail recipients, the Slack channel, a PagerDuty routing key in clear.
    `{{"\\"|js|js|...}}@example.com` is a valid address that doubles per `|js`."""
    spec = obj.spec
    out = [
        (f"spec.email[{i}].to[{j}]", to)
        for i, e in enumerate(spec.email)
        for j, to in enumerate(e.to)
    ]
    out += [(f"spec.slack[{i}].channel", s.channel) for i, s in enumerate(spec.slack) if s.channel]
    out += [
        (f"spec.pagerduty[{i}].routingKey", p.routing_key)
        for i, p in enumerate(spec.pagerduty)
        if p.routing_key
    ]
    return out


def _check_route(obj: CustomerReceiver) -> list[Problem]:
    route = obj.spec.route
    problems: list[Problem] = []
    for key in route.match.labels:
        path = f"spec.route.match.labels.{path_key(key)}"
        if key == "customer_id":
            problems.append(
                Problem(
                    path,
                    "routes are already limited to this customer",
                    "remove customer_id from match.labels",
                )
            )
        elif key in ("severity", "category"):
            problems.append(
                Problem(path, f"{key!r} has its own field", f"use spec.route.match.{key} (a list)")
            )
        elif not is_label_name(key):
            problems.append(_bad_label_name(path, key))
    for i, name in enumerate(route.group_by or []):
        if name != "..." and not is_label_name(name):
            problems.append(_bad_label_name(f"spec.route.groupBy[{i}]", name))
    seen: set[str] = set()
    for i, name in enumerate(route.group_by or []):
        if name in seen:
            problems.append(
                Problem(
                    f"spec.route.groupBy[{i}]",
                    f"{name!r} is listed twice",
                    "list each label once (Alertmanager refuses duplicates)",
                )
            )
        seen.add(name)
    # Alertmanager refuses a zero interval, and would then refuse the whole shared config:
    # one customer's receiver must never fail everyone's.
    for field, value in (
        ("groupInterval", route.group_interval),
        ("repeatInterval", route.repeat_interval),
    ):
        if value is not None and not any(c in "123456789" for c in value):
            problems.append(
                Problem(
                    f"spec.route.{field}",
                    f"{field} cannot be zero",
                    "use a positive duration such as 5m, or leave it unset for the default",
                )
            )
    if route.group_by and "..." in route.group_by and len(route.group_by) > 1:
        problems.append(
            Problem(
                "spec.route.groupBy",
                "'...' groups by all labels and cannot be combined",
                "use either ['...'] or a list of label names",
            )
        )
    return problems


def _one_secret(
    path: str, field: str, clear: str | None, ref: SecretKeyRef | None
) -> list[Problem]:
    if clear is not None and ref is not None:
        return [
            Problem(
                f"{path}.{field}",
                f"both {field} and {field}SecretRef are set",
                f"keep only {field}SecretRef",
            )
        ]
    if clear is None and ref is None:
        return [
            Problem(
                path,
                f"{field}SecretRef is required",
                f"reference the Secret key holding it: {field}SecretRef: {{name, key}}",
            )
        ]
    return []


def _no_define(path: str, text: str) -> list[Problem]:
    if _DEFINE.search(text):
        return [
            Problem(
                path,
                "templates may not define named templates ({{ define }}/{{ block }})",
                'inline the text, or use {{ template "name" . }} to call an existing one',
            )
        ]
    return []


def _bad_label_name(path: str, key: str) -> Problem:
    return Problem(
        path,
        f"{key!r} is not a valid label name",
        "use letters, digits and '_', not starting with a digit or '__'",
    )


def _known_annotation(key: str) -> str | None:
    # `runbook_url`, `runbookURL`, `Summary`: almost certainly meant the known key.
    squashed = key.replace("_", "").lower()
    for known in KNOWN_ANNOTATIONS:
        if squashed == known.lower():
            return known
    close = difflib.get_close_matches(key, KNOWN_ANNOTATIONS, n=1, cutoff=0.85)
    return close[0] if close else None


def _annotation_field(key: str) -> str:
    return "runbookUrl" if key == "runbook_url" else key


def _is_http_url(value: str) -> bool:
    return _is_python_http_url(value)


def _is_alertmanager_url(value: str) -> bool:
    """An http(s) URL Alertmanager also parses (Slack api_url, webhook url): amtool's own
    refusal would quote the URL, a secret for Slack (validate/amurl.py)."""
    return _is_python_http_url(value) and alertmanager_accepts_url(value)


def _is_python_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. "http://[::1/" (an unclosed IPv6 host) or a bad port
        return False

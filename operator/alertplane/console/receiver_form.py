"""The receiver form: spec ↔ form fields, and problems pinned on the field they are about.

As with the alert form, the form only reshapes text (addresses one per line, `name=value`
lines, comma-separated groupBy); every rule and message is the core's. Each channel list
(`spec.email[]`, ...) is a run of numbered entries `<channel>-<i>-<field>`; the page shows
the stored ones plus one blank entry to add another, and an entry left blank is dropped.
Entries are numbered as in the spec the form describes (blank ones skipped), so a problem
at `spec.slack[1]` is shown on the second entry the page shows.

Secrets: a clear `apiURL`/`routingKey` typed into the form is sent to the core exactly as
the REST API sends it (the store turns it into a secret file and a reference before
anything is stored); the form never shows a secret value, not even the one just typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from ..errors import Problem
from ..manifests import load_text
from .forms import FieldErrors, clean, parse_pairs

# Per channel: its fields in page order, as (spec key, input kind).
CHANNELS: dict[str, tuple[tuple[str, str], ...]] = {
    "email": (
        ("to", "lines"),
        ("subjectTemplate", "text"),
        ("textTemplate", "area"),
        ("htmlTemplate", "area"),
        ("sendResolved", "bool"),
    ),
    "slack": (
        ("apiURL", "secret"),
        ("channel", "text"),
        ("titleTemplate", "text"),
        ("textTemplate", "area"),
        ("sendResolved", "bool"),
    ),
    "pagerduty": (
        ("routingKey", "secret"),
        ("severity", "text"),
        ("description", "text"),
        ("sendResolved", "bool"),
    ),
    "webhook": (("url", "text"), ("sendResolved", "bool")),
}
SECRET_NAME, SECRET_KEY, DROPPED = "secretName", "secretKey", "secretDropped"
ROUTE_TEXT = ("priority", "groupWait", "groupInterval", "repeatInterval")
# Names of this receiver's time intervals, separated by commas.
ROUTE_NAMES = ("muteTimeIntervals", "activeTimeIntervals")
ROUTE_FIELDS = (*ROUTE_TEXT, "groupBy", "labels", "continue", *ROUTE_NAMES)
# Lists edited as YAML (docs/inhibition.md): a form per matcher and period would be a page
# of its own; the text is read with the manifests' reader (no aliases, bounded depth).
YAML_LISTS = ("inhibitRules", "timeIntervals")
MATCH_CHOICES = {
    "severity": ("critical", "warning", "info"),
    "category": ("application", "infrastructure"),
}
MAX_ENTRIES = 50  # per channel; more is not a form any more, it is `alertplane apply`
_ENTRY = re.compile(r"^(email|slack|pagerduty|webhook)-(\d{1,3})-(\w+)$")
_PATH = re.compile(r"^spec\.(email|slack|pagerduty|webhook)\[(\d+)\](?:\.(\w+))?")
_SPLIT = re.compile(r"; (?=spec(?:\.|\[|:))")


def entry_fields(channel: str) -> list[str]:
    """Every form input of one entry (a secret adds its reference's name and key)."""
    out = []
    for key, kind in CHANNELS[channel]:
        out.append(key)
        if kind == "secret":
            out += [SECRET_NAME, SECRET_KEY]
    return out


def secret_of(channel: str) -> str | None:
    return next((k for k, kind in CHANNELS[channel] if kind == "secret"), None)


def field_of(path: str) -> str | None:
    """The form field a problem path is about (`spec.email[0].to[1]` → email-0-to);
    `<channel>-<i>` is the entry as a whole."""
    if path == "spec.receiverName":
        return "receiverName"
    for key in YAML_LISTS:
        if path == f"spec.{key}" or path.startswith((f"spec.{key}[", f"spec.{key}.")):
            return key
    found = _PATH.match(path)
    if found:
        channel, index, key = found.groups()
        prefix = f"{channel}-{index}"
        if key is None:
            return prefix
        secret = secret_of(channel)
        if secret is not None and key == f"{secret}SecretRef":
            rest = path[found.end() :]
            return f"{prefix}-{SECRET_KEY if rest.startswith('.key') else SECRET_NAME}"
        return f"{prefix}-{key}" if key in entry_fields(channel) else prefix
    if path.startswith("spec.route."):
        parts = re.split(r"[.\[]", path.removeprefix("spec.route."))
        head = parts[0]
        if head == "match" and len(parts) > 1:
            return f"route-{parts[1]}" if parts[1] in (*MATCH_CHOICES, "labels") else None
        return f"route-{head}" if head in ROUTE_FIELDS else None
    return None


def pin(problems: Iterable[Problem]) -> FieldErrors:
    out = FieldErrors()
    for p in problems:
        _add(out, field_of(p.path), p.text(), str(p))
    return out


def pin_texts(message: str) -> FieldErrors:
    """A condition message split back into problems (see `forms.pin_texts`)."""
    out = FieldErrors()
    for text in (t.strip() for t in _SPLIT.split(message) if t.strip()):
        _add(out, field_of(text.split(":", 1)[0] if ":" in text else ""), text, text)
    return out


def _add(out: FieldErrors, name: str | None, text: str, line: str) -> None:
    if name is None:
        out.general.append(text)
    else:
        out.fields.setdefault(name, []).append(text)
    out.lines.append((name or "", line))


def blank_entry(channel: str) -> dict[str, str]:
    return dict.fromkeys(entry_fields(channel), "")


def values_of(spec: dict[str, Any] | None) -> dict[str, Any]:
    """Form values of a stored spec (secret references shown, values never stored)."""
    spec = spec or {}
    out: dict[str, Any] = {"receiverName": _text(spec.get("receiverName"))}
    for channel, fields in CHANNELS.items():
        entries = []
        for cfg in spec.get(channel) or []:
            entry = blank_entry(channel)
            for key, kind in fields:
                value = cfg.get(key)
                if kind == "lines":
                    entry[key] = "\n".join(map(str, value or []))
                elif kind == "bool":
                    entry[key] = "" if value is None else ("true" if value else "false")
                elif kind == "secret":
                    ref = cfg.get(f"{key}SecretRef") or {}
                    entry[SECRET_NAME] = _text(ref.get("name"))
                    entry[SECRET_KEY] = _text(ref.get("key"))
                else:
                    entry[key] = _text(value)
            entries.append(entry)
        out[channel] = entries
    route = spec.get("route") or {}
    match = route.get("match") or {}
    for key in ROUTE_TEXT:
        out[f"route-{key}"] = _text(route.get(key))
    out["route-groupBy"] = ", ".join(map(str, route.get("groupBy") or []))
    out["route-labels"] = "\n".join(f"{k}={v}" for k, v in (match.get("labels") or {}).items())
    out["route-continue"] = "on" if route.get("continue") else ""
    for key in MATCH_CHOICES:
        out[f"route-{key}"] = [str(v) for v in match.get(key) or []]
    for key in ROUTE_NAMES:
        out[f"route-{key}"] = ", ".join(map(str, route.get(key) or []))
    for key in YAML_LISTS:
        items = spec.get(key) or []
        out[key] = yaml.safe_dump(items, sort_keys=False, allow_unicode=True) if items else ""
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _entries(form: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The non-blank entries of each channel, in the order the page showed them."""
    found: dict[str, dict[int, dict[str, str]]] = {c: {} for c in CHANNELS}
    for name, value in form.items():
        m = _ENTRY.match(name)
        if m is None or m.group(3) not in (*entry_fields(m.group(1)), DROPPED):
            continue
        channel, index = m.group(1), int(m.group(2))
        if index < MAX_ENTRIES:
            found[channel].setdefault(index, {})[m.group(3)] = clean(value)
    out: dict[str, list[dict[str, str]]] = {}
    for channel, by_index in found.items():
        kept = []
        for _, entry in sorted(by_index.items()):
            entry.pop(DROPPED, None)
            if any(v.strip() for v in entry.values()):
                kept.append({**blank_entry(channel), **entry})
        out[channel] = kept
    return out


def spec_of(form: dict[str, str], name: str | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """The spec a submitted form describes; `name` is the receiver being edited. Empty
    fields are left out, so the core reports what is required in its own words."""
    spec: dict[str, Any] = {}
    receiver = name if name is not None else form.get("receiverName", "").strip()
    if receiver:
        spec["receiverName"] = receiver
    for channel, entries in _entries(form).items():
        configs = [_config(channel, entry) for entry in entries]
        if configs:
            spec[channel] = configs
    route, problems = _route(form)
    spec["route"] = route
    for key in YAML_LISTS:
        value, found = _yaml_list(form.get(key, ""), key)
        problems += found
        if value:
            spec[key] = value
    return spec, problems


def _yaml_list(text: str, key: str) -> tuple[list[Any], list[Problem]]:
    """A YAML list typed into the form (empty: none)."""
    if not text.strip():
        return [], []
    loaded = load_text(text, key, lists=False)
    if loaded.problems:
        return [], [_yaml_problem(key, p) for p in loaded.problems]
    data = loaded.documents[0].data if len(loaded.documents) == 1 else None
    if not isinstance(data, list):
        hint = f"write one '- ' item per entry ({EXAMPLES[key]})"
        return [], [Problem(f"spec.{key}", "this is not a YAML list", hint)]
    return data, []


def _yaml_problem(key: str, problem: Problem) -> Problem:
    line = problem.source.line if problem.source is not None else 0
    where = f"line {line}: " if line else ""
    return Problem(f"spec.{key}", f"{where}{problem.message}", problem.hint)


def _config(channel: str, entry: dict[str, str]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for key, kind in CHANNELS[channel]:
        value = entry.get(key, "")
        if kind == "lines":
            addresses = [a.strip() for a in re.split(r"[\n,]", value) if a.strip()]
            if addresses:
                cfg[key] = addresses
        elif kind == "bool":
            if value in ("true", "false"):
                cfg[key] = value == "true"
        elif kind == "secret":
            # A value typed now replaces the reference (the store writes it to a file
            # and stores a new reference); otherwise the reference stays as shown.
            ref = {
                "name": entry.get(SECRET_NAME, "").strip(),
                "key": entry.get(SECRET_KEY, "").strip(),
            }
            if value.strip():
                cfg[key] = value.strip()
            elif any(ref.values()):
                cfg[f"{key}SecretRef"] = {k: v for k, v in ref.items() if v}
        elif value.strip():
            cfg[key] = value if kind == "area" else value.strip()
    return cfg


def _route(form: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    route: dict[str, Any] = {}
    for key in ROUTE_TEXT:
        value = form.get(f"route-{key}", "").strip()
        if value:
            # An integer where one is meant; anything else goes as typed, and the core
            # says why it is wrong.
            number = key == "priority" and re.fullmatch(r"-?\d{1,9}", value)
            route[key] = int(value) if number else value
    group_by = [g.strip() for g in form.get("route-groupBy", "").split(",") if g.strip()]
    if group_by:
        route["groupBy"] = group_by
    for key in ROUTE_NAMES:
        names = [n.strip() for n in form.get(f"route-{key}", "").split(",") if n.strip()]
        if names:
            route[key] = names
    route["continue"] = form.get("route-continue") == "on"
    match: dict[str, Any] = {}
    for key, choices in MATCH_CHOICES.items():
        chosen = [c for c in choices if form.get(f"route-{key}-{c}") == "on"]
        if chosen:
            match[key] = chosen
    labels, problems = parse_pairs(form.get("route-labels", ""), "spec.route.match.labels", "label")
    if labels:
        match["labels"] = labels
    if match:
        route["match"] = match
    return route, problems


def submitted(form: dict[str, str]) -> dict[str, Any]:
    """What the user typed, to show again next to the problems: blank entries dropped
    (so entries are numbered as in the spec the problems name), secrets never."""
    out: dict[str, Any] = {"receiverName": form.get("receiverName", "").strip()}
    for channel, entries in _entries(form).items():
        secret = secret_of(channel)
        for entry in entries:
            if secret is not None and entry.get(secret, "").strip():
                entry[secret] = ""
                entry[DROPPED] = "1"
        out[channel] = entries
    for key in (*ROUTE_TEXT, "groupBy", "labels", *ROUTE_NAMES):
        out[f"route-{key}"] = clean(form.get(f"route-{key}", ""))
    for key in YAML_LISTS:
        out[key] = clean(form.get(key, ""))
    out["route-continue"] = "on" if form.get("route-continue") == "on" else ""
    for key, choices in MATCH_CHOICES.items():
        out[f"route-{key}"] = [c for c in choices if form.get(f"route-{key}-{c}") == "on"]
    return out


TITLES = {"email": "E-mail", "slack": "Slack", "pagerduty": "PagerDuty", "webhook": "Webhook"}
LABELS = {
    "to": "Recipients",
    "subjectTemplate": "Subject template",
    "textTemplate": "Text template",
    "htmlTemplate": "HTML body template",
    "sendResolved": "Notify when resolved",
    "apiURL": "Webhook URL (secret)",
    "channel": "Channel",
    "titleTemplate": "Title template",
    "routingKey": "Routing key (secret)",
    "severity": "PagerDuty severity",
    "description": "Description",
    "url": "URL",
}
EXAMPLES = {
    "inhibitRules": "e.g. - sourceMatch: [{name: alertname, value: DatabaseDown}]",
    "timeIntervals": "e.g. - name: business-hours",
}
HINTS = {
    "to": "One address per line.",
    "apiURL": "Stored as a secret file, never shown again. Leave empty to keep the secret "
    "referenced below.",
    "routingKey": "Stored as a secret file, never shown again. Leave empty to keep the "
    "secret referenced below.",
    "url": "Receives Alertmanager's webhook payload, e.g. https://hooks.example.com/alerts",
    "severity": "critical, error, warning, info or a template.",
}

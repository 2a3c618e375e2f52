"""E-mail template preview with the real Alertmanager template engine (`amtool template
render`), for a sample alert built from one of the customer's alerts.

Alertmanager's own defaults apply where a receiver sets no template (subject
`email.default.subject`, HTML body `email.default.html`), rendered from the template
files the Alertmanager package ships, as Alertmanager would.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..validate import tools

DEFAULT_GLOB = "/usr/share/prometheus/alertmanager/*.tmpl"
DEFAULTS = {
    "subjectTemplate": '{{ template "email.default.subject" . }}',
    "htmlTemplate": '{{ template "email.default.html" . }}',
}
PARTS = (
    ("subjectTemplate", "Subject", False),
    ("textTemplate", "Text body", False),
    ("htmlTemplate", "HTML body", True),
)


@dataclass(frozen=True)
class Part:
    label: str
    field: str
    template: str | None  # None: the receiver sets none and Alertmanager has no default
    default: bool
    ok: bool
    output: str
    html: bool


def default_glob() -> str | None:
    """Alertmanager's shipped templates (`ALERTPLANE_AM_TEMPLATES` overrides), if present."""
    pattern = os.environ.get("ALERTPLANE_AM_TEMPLATES", DEFAULT_GLOB)
    return pattern if glob.glob(pattern) else None


def sample_data(
    receiver: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    status: str,
    group_by: list[str],
    external_url: str,
) -> dict[str, Any]:
    """Alertmanager's template data (`template.Data`) for one alert of one group."""
    now = datetime.now(UTC).replace(microsecond=0)
    resolved = status == "resolved"
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endsAt": now.strftime("%Y-%m-%dT%H:%M:%SZ") if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": "0000000000000001",
    }
    every = "..." in group_by  # Alertmanager's "group by all labels"
    group = dict(labels) if every else {k: labels[k] for k in group_by if k in labels}
    return {
        "receiver": receiver,
        "status": status,
        "alerts": [alert],
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
    }


def render_email(email: dict[str, Any], data: dict[str, Any]) -> list[Part]:
    """Subject, text and HTML body of one e-mail config (camelCase spec) for `data`."""
    defaults = default_glob()
    parts = []
    with tempfile.TemporaryDirectory(prefix="alertplane-preview-") as tmp:
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        for key, label, is_html in PARTS:
            own = email.get(key)
            template = own if isinstance(own, str) else DEFAULTS.get(key)
            if template is None:
                parts.append(Part(label, key, None, False, True, "", is_html))
                continue
            if own is None and defaults is None:
                message = "Alertmanager's default template files are not installed here"
                parts.append(Part(label, key, template, True, False, message, is_html))
                continue
            args = [
                "template",
                "render",
                f"--template.glob={defaults or os.devnull}",
                f"--template.text={template}",
                f"--template.data={data_file}",
            ]
            if is_html:
                args.append("--template.type=html")
            result = tools.run("amtool", args)
            output = result.stdout if result.ok else _clean(result.output)
            parts.append(Part(label, key, template, own is None, result.ok, output, is_html))
    return parts


def _clean(output: str) -> str:
    return output.removeprefix("amtool: error:").strip()

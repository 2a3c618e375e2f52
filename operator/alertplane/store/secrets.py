"""Clear-text secrets in a spec become file references before anything is stored.

Alertmanager reads `api_url_file` / `routing_key_file` itself, so the value lives only in
a 0600 file under the platform's secrets directory; the database, the audit log, logs
and API responses only ever see `{name, key}`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..render.secretfiles import secret_file
from ..sinks.atomic import write_atomic

# (channel list, clear field, reference field, key prefix)
SECRET_FIELDS = (
    ("slack", "apiURL", "apiURLSecretRef", "slack-api-url"),
    ("pagerduty", "routingKey", "routingKeySecretRef", "pagerduty-routing-key"),
)
REDACTED = "<redacted>"


def extract_secrets(
    kind: str, name: str, spec: dict[str, Any]
) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """(spec with references instead of values, {(secret name, key): value})."""
    if kind != "CustomerReceiver":
        return spec, {}
    out = copy.deepcopy(spec)
    found: dict[tuple[str, str], str] = {}
    for channel, clear, ref, prefix in SECRET_FIELDS:
        for i, cfg in enumerate(out.get(channel) or []):
            if isinstance(cfg, dict) and isinstance(cfg.get(clear), str):
                key = f"{prefix}-{i}"
                found[(name, key)] = cfg.pop(clear)
                cfg[ref] = {"name": name, "key": key}
    return out, found


def redact(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """A spec safe to show: any clear secret that slipped through is replaced."""
    if spec is None:
        return None
    out = copy.deepcopy(spec)
    for channel, clear, _, _ in SECRET_FIELDS:
        for cfg in out.get(channel) or []:
            if isinstance(cfg, dict) and clear in cfg:
                cfg[clear] = REDACTED
    return out


def write_secret(secrets_dir: str, namespace: str, name: str, key: str, value: str) -> bool:
    """Write one secret file (0600); True when its content changed. The path is the one
    Alertmanager is given (render/secretfiles.py), so it never leaves the namespace's folder."""
    path = Path(secret_file(secrets_dir, namespace, name, key))
    try:
        if path.read_text(encoding="utf-8") == value:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, value, mode=0o600)
    return True

"""Where a receiver's secrets sit in its spec, and how a spec is made safe to show.

A rule of the model, used wherever a spec leaves (views, the audit log, the mirror): the
clear-text fields are replaced, whatever slipped through.
"""

from __future__ import annotations

import copy
from typing import Any

# (channel list, clear field, reference field, key prefix)
SECRET_FIELDS = (
    ("slack", "apiURL", "apiURLSecretRef", "slack-api-url"),
    ("pagerduty", "routingKey", "routingKeySecretRef", "pagerduty-routing-key"),
)
REDACTED = "<redacted>"


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

"""What Prometheus' rules API says it loaded from a rule file, for unit tests of
sinks/loaded.py and the sinks that ask (the integration tests ask the real one).

The shape is the real Prometheus 2.42's (`GET /api/v1/rules`, see tests/integration/
test_loaded_live.py): durations in seconds, the file the group was read from, and the
query as Prometheus prints it, here the written one unless `printed` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from alertplane.model.common import duration_ms


def _seconds(value: object) -> float:
    return duration_ms(str(value)) / 1000 if value else 0.0


def api_groups(
    text: str | None, file: str, printed: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The rules API's groups for a written rule file (`printed`: written query → print)."""
    data = yaml.safe_load(text) if text else None
    out = []
    for group in (data or {}).get("groups") or []:
        rules = []
        for rule in group.get("rules") or []:
            expr = str(rule["expr"])
            api: dict[str, Any] = {
                "name": rule.get("alert", rule.get("record")),
                "query": (printed or {}).get(expr, expr),
                "labels": rule.get("labels") or {},
                "health": "ok",
                "type": "alerting" if "alert" in rule else "recording",
            }
            if "alert" in rule:
                api["duration"] = _seconds(rule.get("for"))
                api["keepFiringFor"] = _seconds(rule.get("keep_firing_for"))
                api["annotations"] = rule.get("annotations") or {}
                api["alerts"] = []
            rules.append(api)
        out.append({"name": group["name"], "file": file, "rules": rules, "interval": 60})
    return out

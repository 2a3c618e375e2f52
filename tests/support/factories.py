"""Builders for manifests in tests: valid by default, override what a test is about."""

from __future__ import annotations

import copy
from typing import Any

from alertplane.model import Resource
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_document

API = "alertplane.io/v1alpha1"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # use as a value to delete a key from the default manifest


def alert(customer: str = "acme", name: str = "HighErrorRate", **spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": API,
        "kind": "CustomerAlert",
        "metadata": {"name": f"{customer}-{name.lower()}", "namespace": customer},
        "spec": {
            "customerId": customer,
            "alertName": name,
            "category": "application",
            "severity": "critical",
            "expr": f'rate(errors_total{{customer_id="{customer}"}}[5m]) > 1',
            "annotations": {"summary": "{{ $labels.service }} fails"},
        },
    }
    return _merge(base, {"spec": spec})


def receiver(customer: str = "acme", name: str = "oncall", **spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": API,
        "kind": "CustomerReceiver",
        "metadata": {"name": f"{customer}-{name}", "namespace": customer},
        "spec": {
            "customerId": customer,
            "receiverName": name,
            "webhook": [{"url": f"http://127.0.0.1:9097/{customer}/{name}"}],
        },
    }
    return _merge(base, {"spec": spec})


def recording_rule(
    customer: str = "acme", record: str = "job:errors:rate5m", **spec: Any
) -> dict[str, Any]:
    slug = "-".join(filter(None, record.replace(":", "-").replace("_", "-").lower().split("-")))
    base = {
        "apiVersion": API,
        "kind": "CustomerRecordingRule",
        "metadata": {"name": f"{customer}-{slug or 'record'}", "namespace": customer},
        "spec": {
            "customerId": customer,
            "record": record,
            "expr": f'sum by (job) (rate(errors_total{{customer_id="{customer}"}}[5m]))',
        },
    }
    return _merge(base, {"spec": spec})


def obj(manifest: dict[str, Any]) -> Resource:
    parsed, problems = parse_document(manifest)
    assert parsed is not None, problems
    return parsed


def body(manifest: dict[str, Any], generation: int = 1, **meta: Any) -> dict[str, Any]:
    """A manifest as the API server returns it."""
    out = copy.deepcopy(manifest)
    out["metadata"].setdefault("uid", f"uid-{out['metadata']['name']}")
    out["metadata"]["generation"] = generation
    out["metadata"].update(meta)
    return out


REF = {"name": "s", "key": "k"}  # a Secret reference


MAIL: dict[str, Any] = {"email": [{"to": ["ops@acme.example"]}]}


def platform_global(**glob: str) -> PlatformConfig:
    """A platform config with these Alertmanager `global` settings (e.g. SMTP)."""
    return PlatformConfig.model_validate({"alertmanager": {"global": glob}})

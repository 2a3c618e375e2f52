"""One customer's rule file too large for a ConfigMap (64 annotations of 16 KiB on each of
two alerts: 2 MiB) must not stop the ConfigMap sink for everybody. The API refuses a
ConfigMap of more than 1 MiB; the refused write used to fail the sink's whole pass, so
no customer after it was written, every status said WriteFailed, on every retry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alertplane.kube.client import ApiError
from alertplane.render.platform import PlatformConfig
from alertplane.sinks import configmap
from alertplane.sinks.factory import CONFIGMAP, SinkSettings, build_sink
from tests.unit.sinks.test_conformance import FakeKube

CONFIGMAPS = "/api/v1/namespaces/monitoring/configmaps"


class SizedKube(FakeKube):
    """Refuses a ConfigMap whose data exceeds 1 MiB, as the API server does."""

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data") or {}
        if sum(len(k) + len(v.encode()) for k, v in data.items()) > 1024 * 1024:
            raise ApiError(422, "ConfigMap is invalid: []: Too long: must have at most 1048576")
        return super().apply(path, body)


def _rules(customer: str, notes: dict[str, str]) -> str:
    rules = [
        {"alert": f"A{i}", "expr": f'up{{customer_id="{customer}"}}', "annotations": notes}
        for i in range(2)
    ]
    return json.dumps({"groups": [{"name": f"{customer}-application", "rules": rules}]})


def test_a_rule_file_too_large_for_a_configmap_rejects_its_customer_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(configmap, "check_output", lambda files: None)
    kube = SizedKube()
    settings = SinkSettings(
        kind=CONFIGMAP, out_dir=tmp_path, namespace="monitoring", platform=PlatformConfig()
    )
    sink = build_sink(settings, kube)
    sink.start()
    big = _rules("acme", {f"k{j}": "x" * 16_000 for j in range(64)})
    files = {"rules/acme.yml": big, "rules/globex.yml": _rules("globex", {})}
    assert sink.write(files, {}) == ["rules/globex.yml"]
    assert f"{CONFIGMAPS}/alertplane-rules-globex" in kube.objects
    live = sink.liveness("rules/acme.yml", "acme")
    assert (live.synced, live.reason) == (False, "Rejected")
    assert "more than the 1048576 a ConfigMap may hold" in live.message
    assert sink.liveness("rules/globex.yml", "globex").reason != "Rejected"
    sink.write({"rules/acme.yml": _rules("acme", {})}, {})  # made smaller: written
    assert f"{CONFIGMAPS}/alertplane-rules-acme" in kube.objects
    assert sink.liveness("rules/acme.yml", "acme").reason != "Rejected"

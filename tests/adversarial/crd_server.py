"""Dry-runs against the real kube-apiserver with the committed CRDs (conftest's `crd_kube`),
for the limits modules' schema tests."""

from __future__ import annotations

import json
from typing import Any

from tests.support.crds import RECEIVER, server_dry_run
from tests.support.k8s_env import KubeEnv


def dry_run(kube: KubeEnv, obj: dict[str, Any]) -> tuple[int, str]:
    """(exit code, output) of a strict server-side dry-run create of `obj`."""
    return server_dry_run(kube, obj)


def receiver_with(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(json.dumps(RECEIVER))
    obj["spec"].update(spec)
    return obj

"""A real kube-apiserver with the committed CRDs, for the limits modules' schema tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.k8s_env import KubeEnv
from tests.test_crds import CRDS, NAMES, RECEIVER, server_dry_run


@contextmanager
def crd_server() -> Iterator[KubeEnv]:
    with KubeEnv() as env:
        env.kubectl("apply", "-f", str(CRDS))
        env.wait_established(*NAMES)
        env.kubectl("create", "namespace", "crd-test")
        yield env


def dry_run(kube: KubeEnv, obj: dict[str, Any]) -> tuple[int, str]:
    """(exit code, output) of a strict server-side dry-run create of `obj`."""
    return server_dry_run(kube, obj)


def receiver_with(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(json.dumps(RECEIVER))
    obj["spec"].update(spec)
    return obj

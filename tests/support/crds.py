"""The committed CRDs (crds/) on a real kube-apiserver: the objects the schema tests send, and
one API server with the CRDs installed that the e2e and adversarial schema tests share
(conftest's `crd_kube`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.k8s_env import KubeEnv
from tests.support.paths import ROOT

CRDS = ROOT / "crds"


NAMES = (
    "customeralerts.alertplane.io",
    "customerreceivers.alertplane.io",
    "customerrecordingrules.alertplane.io",
)


NAMESPACES = ("acme", "globex", "initech", "crd-test")


ALERT: dict[str, Any] = {
    "apiVersion": "alertplane.io/v1alpha1",
    "kind": "CustomerAlert",
    "metadata": {"name": "acme-probe", "namespace": "crd-test"},
    "spec": {
        "customerId": "acme",
        "alertName": "ProbeFailed",
        "category": "infrastructure",
        "severity": "warning",
        "expr": 'probe_success{customer_id="acme"} == 0',
        "for": "2m",
        "labels": {"team": "web"},
    },
}


RECEIVER: dict[str, Any] = {
    "apiVersion": "alertplane.io/v1alpha1",
    "kind": "CustomerReceiver",
    "metadata": {"name": "acme-chat", "namespace": "crd-test"},
    "spec": {
        "customerId": "acme",
        "receiverName": "chat",
        "slack": [{"apiURLSecretRef": {"name": "acme-slack", "key": "url"}}],
    },
}


def server_dry_run(kube: KubeEnv, obj: dict[str, Any]) -> tuple[int, str]:
    proc = kube.kubectl(
        "create", "--dry-run=server", "--validate=strict", "-f", "-",
        input=json.dumps(obj), check=False,
    )  # fmt: skip
    return proc.returncode, proc.stderr + proc.stdout


@contextmanager
def crd_server() -> Iterator[KubeEnv]:
    """A fresh API server with the committed CRDs and the namespaces the tests use."""
    with KubeEnv() as env:
        env.kubectl("apply", "-f", str(CRDS))
        env.wait_established(*NAMES)
        for ns in NAMESPACES:
            env.kubectl("create", "namespace", ns)
        yield env

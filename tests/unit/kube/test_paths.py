"""The Kubernetes API's URL paths (kube/paths.py)."""

from __future__ import annotations

import pytest

from alertplane.errors import ObjectRef
from alertplane.kube import kinds
from alertplane.kube.paths import api_path, kind_path, object_path


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("v1", "namespaces"), "/api/v1/namespaces"),
        (("v1", "namespaces", None, "acme"), "/api/v1/namespaces/acme"),
        (("v1", "secrets", "acme", "slack"), "/api/v1/namespaces/acme/secrets/slack"),
        (
            ("alertplane.io/v1alpha1", "customeralerts"),
            "/apis/alertplane.io/v1alpha1/customeralerts",
        ),
        (
            ("alertplane.io/v1alpha1", "customeralerts", "acme", "a", "status"),
            "/apis/alertplane.io/v1alpha1/namespaces/acme/customeralerts/a/status",
        ),
    ],
)
def test_api_path(args: tuple[str | None, ...], path: str) -> None:
    assert api_path(*args) == path  # type: ignore[arg-type]


def test_kind_path() -> None:
    assert kind_path(kinds.NAMESPACE) == "/api/v1/namespaces"
    assert kind_path(kinds.NAMESPACE, name="acme") == "/api/v1/namespaces/acme"
    assert kind_path(kinds.EVENT, "acme") == "/api/v1/namespaces/acme/events"
    assert (
        kind_path(kinds.PROMETHEUS_RULE, "monitoring", "alertplane-acme")
        == "/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules/alertplane-acme"
    )
    assert kind_path(kinds.CUSTOMER_RECEIVER) == "/apis/alertplane.io/v1alpha1/customerreceivers"


def test_object_path() -> None:
    ref = ObjectRef("CustomerAlert", "acme", "acme-high-error")
    base = "/apis/alertplane.io/v1alpha1/namespaces/acme/customeralerts"
    assert object_path(ref) == f"{base}/acme-high-error"
    assert object_path(ref, "status") == f"{base}/acme-high-error/status"
    assert object_path(ref, collection=True) == base
    receiver = ObjectRef("CustomerReceiver", "globex", "globex-ops")
    assert object_path(receiver) == (
        "/apis/alertplane.io/v1alpha1/namespaces/globex/customerreceivers/globex-ops"
    )

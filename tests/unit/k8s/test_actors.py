"""Who changed an object's spec (k8s/changes.actor_of), from its managed fields."""

from __future__ import annotations

from alertplane.k8s.changes import actor_of


def test_actor_is_the_last_manager_of_the_spec() -> None:
    meta = {
        "managedFields": [
            {"manager": "helm", "time": "2024-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}},
            {"manager": "argocd-controller", "time": "2024-01-02T00:00:00Z",
             "fieldsV1": {"f:spec": {}}},
            {"manager": "kubectl-label", "time": "2024-01-03T00:00:00Z",
             "fieldsV1": {"f:metadata": {}}},
            {"manager": "alertplane", "time": "2024-01-04T00:00:00Z",
             "fieldsV1": {"f:spec": {}}},
            {"manager": "alertplane", "time": "2024-01-05T00:00:00Z", "subresource": "status",
             "fieldsV1": {"f:status": {}}},
        ]
    }  # fmt: skip
    assert actor_of(meta) == "argocd-controller"
    assert actor_of({}) == "unknown"

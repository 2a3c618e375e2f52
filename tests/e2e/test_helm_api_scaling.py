"""The chart scales the API Deployment horizontally (issue 12): fixed replicas or a
HorizontalPodAutoscaler owning the count, a PodDisruptionBudget once there is more than
one replica, and refusals of settings that cannot work. The operator (the reconciler)
is a Deployment of its own and is not scaled by any of this."""

from __future__ import annotations

from typing import Any

from tests.support.helm import API_ON, FULLNAME, NS, Doc, Helm, one

API = f"{FULLNAME}-api"


def api(**over: Any) -> Doc:
    return {**API_ON, "api": {**API_ON["api"], **over}}


def kinds(docs: list[Doc], kind: str) -> list[str]:
    return [d["metadata"]["name"] for d in docs if d["kind"] == kind]


def test_one_replica_has_no_budget_nor_autoscaler(helm: Helm) -> None:
    docs = helm.template(API_ON)
    assert one(docs, "Deployment", API, NS)["spec"]["replicas"] == 1
    assert API not in kinds(docs, "HorizontalPodAutoscaler")
    assert API not in kinds(docs, "PodDisruptionBudget")


def test_replicas_get_a_disruption_budget(helm: Helm) -> None:
    docs = helm.template(api(replicas=3))
    assert one(docs, "Deployment", API, NS)["spec"]["replicas"] == 3
    pdb = one(docs, "PodDisruptionBudget", API, NS)
    deployment = one(docs, "Deployment", API, NS)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    # The operator's pods are not the API's: the budget never selects them.
    operator = one(docs, "Deployment", FULLNAME, NS)
    labels = operator["spec"]["template"]["metadata"]["labels"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    docs = helm.template(api(replicas=3, podDisruptionBudget={"enabled": False}))
    assert API not in kinds(docs, "PodDisruptionBudget")


def test_autoscaling_owns_the_replica_count(helm: Helm) -> None:
    scaling = {"enabled": True, "minReplicas": 2, "maxReplicas": 8}
    docs = helm.template(api(autoscaling=scaling))
    deployment = one(docs, "Deployment", API, NS)
    assert "replicas" not in deployment["spec"]  # the autoscaler's, not each upgrade's
    hpa = one(docs, "HorizontalPodAutoscaler", API, NS)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": API,
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert one(docs, "PodDisruptionBudget", API, NS)
    # The operator stays one Deployment of its own, untouched by the API's scaling.
    assert one(docs, "Deployment", FULLNAME, NS)["spec"].get("replicas") == one(
        helm.template(API_ON), "Deployment", FULLNAME, NS
    )["spec"].get("replicas")


def test_impossible_scaling_is_refused(helm: Helm) -> None:
    err = helm.template_error(
        api(autoscaling={"enabled": True, "minReplicas": 5, "maxReplicas": 2})
    )
    assert "minReplicas 5 is above maxReplicas 2" in err
    err = helm.template_error(
        api(autoscaling={"enabled": True, "targetCPUUtilizationPercentage": 0})
    )
    assert "targetCPUUtilizationPercentage" in err
    err = helm.template_error(api(podDisruptionBudget={"maxUnavailable": 0}))
    assert "maxUnavailable" in err

"""The Helm chart (charts/alertplane) rendered with a real helm, for the chart and operator tests.

helm is built from its Go module by hack/helm/build.sh (cached outside the repo;
$ALERTPLANE_HELM_BIN names a directory with a helm binary instead). Rendering never talks
to a cluster: helm gets its own cache/config/data directories and no kubeconfig.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.support.k8s_env import ROOT

CHART = ROOT / "charts" / "alertplane"
HELM_BUILD = ROOT / "hack" / "helm" / "build.sh"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")

Doc = dict[str, Any]


class HelmError(RuntimeError):
    pass


@functools.cache
def helm_bin() -> Path:
    """The helm binary, built on first use (a first build takes a couple of minutes)."""
    if env := os.environ.get("ALERTPLANE_HELM_BIN"):
        return Path(env) / "helm"
    # stderr is not captured: a first build should show its progress.
    proc = subprocess.run(["bash", str(HELM_BUILD)], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise HelmError(f"{HELM_BUILD} failed (exit {proc.returncode}); see its stderr")
    return Path(lines[-1]) / "helm"


def helm_env(home: Path) -> dict[str, str]:
    """Keep helm's cache/config/data out of $HOME, and never talk to a real cluster."""
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }


def render(values: Doc, release: str, namespace: str) -> list[Doc]:
    """`helm template RELEASE charts/alertplane -n NAMESPACE -f values` as documents."""
    with tempfile.TemporaryDirectory(prefix="alertplane-helm-") as tmp:
        home = Path(tmp)
        path = home / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        proc = subprocess.run(
            [str(helm_bin()), "template", release, str(CHART), "-n", namespace, "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=helm_env(home),
        )
    if proc.returncode != 0:
        raise HelmError(f"helm template failed:\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def operator_args(docs: list[Doc]) -> list[str]:
    """The args of the Deployment's operator container (after `alertplane operator`)."""
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["alertplane", "operator"], container["command"]
    return [str(a) for a in container["args"]]


# sink.prometheusOperator for tests without a running prometheus-operator: no Prometheus or
# Alertmanager to ask, so Synced means written (no --promop-* flags, no liveness Role).
NO_PROMOP_TARGETS: Doc = {"prometheus": [], "alertmanager": []}

# The component label of what sink.prometheusOperator.createObjects renders.
PLATFORM_COMPONENT = "prometheus-operator-objects"


def platform_objects(
    sink_namespace: str,
    prometheus: tuple[str, ...] = ("main",),
    alertmanager: tuple[str, ...] = ("main",),
    values: Doc | None = None,
    release: str = "ap",
) -> list[Doc]:
    """The Prometheus and Alertmanager objects the chart ships (createObjects), with the
    ServiceAccount/Role Prometheus runs as, exactly as `helm template` renders them for the
    prometheus-operator sink writing into `sink_namespace`: what an e2e test applies so it
    runs prometheus-operator on the chart's objects, not on a copy. `values` are merged
    under sink.prometheusOperator (e.g. {"prometheusSpec": {"replicas": 2}})."""
    promop = {
        "createObjects": True,
        "prometheus": list(prometheus),
        "alertmanager": list(alertmanager),
        **(values or {}),
    }
    sink = {
        "type": "prometheus-operator",
        "namespace": sink_namespace,
        "prometheusOperator": promop,
    }
    docs = render({"sink": sink}, release, sink_namespace)
    return [
        d
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == PLATFORM_COMPONENT
    ]

#!/usr/bin/env python3
"""Smoke test of tests/support/k8s_env.py: a real API server serves our CRD, the
prometheus-operator CRDs and ServiceAccount RBAC.

Run: python3 hack/k8s/smoke.py (exit 0 = works)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.k8s_env import KubeEnv, find_bin_dir  # noqa: E402

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "customeralerts.alertplane.io"},
    "spec": {
        "group": "alertplane.io",
        "scope": "Namespaced",
        "names": {"kind": "CustomerAlert", "plural": "customeralerts", "singular": "customeralert"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}

ALERT = {
    "apiVersion": "alertplane.io/v1alpha1",
    "kind": "CustomerAlert",
    "metadata": {"name": "high-error-rate", "namespace": "smoke"},
    "spec": {"customerId": "acme", "alertName": "HighErrorRate", "expr": "up == 0"},
}

RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "acme", "namespace": "smoke"},
    "spec": {"groups": [{"name": "acme", "rules": [{"alert": "Down", "expr": "up == 0"}]}]},
}

AMCONFIG = {
    "apiVersion": "monitoring.coreos.com/v1alpha1",
    "kind": "AlertmanagerConfig",
    "metadata": {"name": "acme", "namespace": "smoke"},
    "spec": {
        "route": {"receiver": "hook"},
        "receivers": [{"name": "hook", "webhookConfigs": [{"url": "http://example.invalid/"}]}],
    },
}


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"smoke: FAILED: {what}")
    print(f"smoke: ok: {what}")


def main() -> None:
    bin_dir = find_bin_dir()  # outside the timing: a first build takes minutes
    t0 = time.monotonic()
    with KubeEnv(bin_dir=bin_dir) as env:
        print(f"smoke: KubeEnv up at {env.server} in {time.monotonic() - t0:.1f}s")

        env.apply(CRD)
        env.wait_established("customeralerts.alertplane.io")
        env.kubectl("create", "namespace", "smoke")
        env.kubectl("create", "-f", "-", input=json.dumps(ALERT))
        got = json.loads(env.kubectl("get", "customeralert", "high-error-rate", "-n", "smoke",
                                     "-o", "json").stdout)  # fmt: skip
        check(got["spec"] == ALERT["spec"], "CustomerAlert round-trips")

        status = {"status": {"conditions": [{"type": "Valid", "status": "True"}]}}
        env.kubectl("patch", "customeralert", "high-error-rate", "-n", "smoke",
                    "--subresource=status", "--type=merge", "-p", json.dumps(status))  # fmt: skip
        got = json.loads(env.kubectl("get", "customeralert", "high-error-rate", "-n", "smoke",
                                     "-o", "json").stdout)  # fmt: skip
        check(got.get("status") == status["status"], "status subresource patch")

        # prometheus-operator CRDs from the Go module cache; server-side apply because the
        # AlertmanagerConfig CRD is too large for client-side apply's annotation.
        crds = subprocess.run(["bash", str(ROOT / "hack/k8s/promop-crds.sh")], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
        env.kubectl("apply", "--server-side",
                    "-f", f"{crds}/monitoring.coreos.com_prometheusrules.yaml",
                    "-f", f"{crds}/monitoring.coreos.com_alertmanagerconfigs.yaml")  # fmt: skip
        env.wait_established(
            "prometheusrules.monitoring.coreos.com", "alertmanagerconfigs.monitoring.coreos.com"
        )
        env.apply(RULE, AMCONFIG)
        names = env.kubectl("get", "prometheusrules,alertmanagerconfigs", "-n", "smoke",
                            "-o", "name").stdout.split()  # fmt: skip
        check(len(names) == 2, f"prometheus-operator objects stored: {names}")

        # A ServiceAccount token carries only the RBAC we grant it.
        token = env.create_token("smoke", "alertplane")
        sa_cfg = env.write_kubeconfig(token, user="alertplane")
        as_sa = ["--kubeconfig", str(sa_cfg), "get", "customeralerts", "-n", "smoke"]
        kubectl = str(env.bin_dir / "kubectl")
        denied = subprocess.run([kubectl, *as_sa], capture_output=True, text=True)
        check(denied.returncode != 0 and "forbidden" in denied.stderr, "SA denied before RBAC")
        env.kubectl("create", "role", "reader", "-n", "smoke", "--verb=get,list",
                    "--resource=customeralerts.alertplane.io")  # fmt: skip
        env.kubectl("create", "rolebinding", "reader", "-n", "smoke", "--role=reader",
                    "--serviceaccount=smoke:alertplane")  # fmt: skip
        allowed = subprocess.run([kubectl, *as_sa], capture_output=True, text=True)
        check(allowed.returncode == 0 and "high-error-rate" in allowed.stdout,
              "SA allowed after RoleBinding")  # fmt: skip
        tmp = env.tmp
    check(not tmp.exists(), "temp dir removed on exit")
    print(f"smoke: PASSED in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()

"""Helpers for the operator tests: a real API server with our CRDs, the operator as a process.

The operator runs as `alertplane operator` in a subprocess, exactly as in a pod, so a test
can SIGKILL it and start it again. Everything waits by polling with a deadline.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import kopf

from alertplane.k8s.client import KubeClient, api_path
from alertplane.stack.processes import free_port
from tests.k8s_env import ROOT, KubeEnv

T = TypeVar("T")
API = "alertplane.io/v1alpha1"
PLURAL = {"CustomerAlert": "customeralerts", "CustomerReceiver": "customerreceivers"}
PROMOP_CRDS = ("prometheusrules", "alertmanagerconfigs")
GOLDEN = ROOT / "tests" / "golden" / "operator"
EXAMPLE_CUSTOMERS = ("acme", "globex", "initech")

# Used only while crds/ from alertplane.crds is not importable: a schema-less CRD with a
# status subresource (the operator needs nothing more).
_MINIMAL_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def crd_manifests() -> list[dict[str, Any]]:
    try:
        from alertplane.crds import crd_manifests as generated
    except ImportError:
        return [_minimal_crd(kind, plural) for kind, plural in PLURAL.items()]
    return generated()


def _minimal_crd(kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.alertplane.io"},
        "spec": {
            "group": "alertplane.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": _MINIMAL_SCHEMA},
                }
            ],
        },
    }


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout}s; last: {last!r}")
        time.sleep(0.1)


class Cluster:
    """A KubeEnv with alertplane's CRDs and prometheus-operator's, plus an API client."""

    def __init__(self, env: KubeEnv) -> None:
        self.env = env
        self.api = KubeClient(
            lambda: kopf.ConnectionInfo(
                server=env.server, ca_path=str(env.ca_file), token=env.token
            )
        )

    def install_crds(self) -> None:
        self.env.apply(*crd_manifests())
        crds = subprocess.run(
            ["bash", str(ROOT / "hack/k8s/promop-crds.sh")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        files = [f"{crds}/monitoring.coreos.com_{name}.yaml" for name in PROMOP_CRDS]
        self.env.kubectl("apply", "--server-side", *[a for f in files for a in ("-f", f)])
        names = [f"crd/{p}.alertplane.io" for p in PLURAL.values()]
        names += [f"crd/{p}.monitoring.coreos.com" for p in PROMOP_CRDS]
        self.env.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
        # Established is not yet served by every storage: wait until a list answers.
        for plural in (*PLURAL.values(),):
            wait_for(lambda p=plural: self._lists(api_path(API, p)), 30, f"{plural} served")
        for plural in PROMOP_CRDS:
            path = api_path(f"monitoring.coreos.com/{_promop_version(plural)}", plural)
            wait_for(lambda p=path: self._lists(p), 30, f"{plural} served")

    def _lists(self, path: str) -> bool:
        self.api.request("GET", path)
        return True

    def namespace(self, name: str, customers: str | None = None) -> None:
        """Create (or relabel) a namespace; `customers` is its alertplane.io/customer label."""
        labels = {} if customers is None else {"alertplane.io/customer": customers}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if labels:
            body["metadata"]["labels"] = labels
        self.api.apply(api_path("v1", "namespaces", name=name), body)

    def secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        self.api.apply(api_path("v1", "secrets", namespace, name), body)

    def kubectl_apply(self, *docs: dict[str, Any]) -> None:
        """As a user would: `kubectl apply` (so managedFields name kubectl as the manager)."""
        self.env.apply(*docs)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.api.get(api_path(API, PLURAL[kind], namespace, name))

    def status(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.get(kind, namespace, name)
        return {} if obj is None else dict(obj.get("status") or {})

    def wait_phase(
        self, kind: str, namespace: str, name: str, phases: tuple[str, ...] = ("Synced",),
        timeout: float = 30.0,
    ) -> dict[str, Any]:  # fmt: skip
        def check() -> dict[str, Any] | None:
            obj = self.get(kind, namespace, name)
            if obj is None:
                return None
            st = obj.get("status") or {}
            gen = obj["metadata"]["generation"]
            if st.get("observedGeneration") == gen and st.get("phase") in phases:
                return obj
            return None

        return wait_for(check, timeout, f"{kind} {namespace}/{name} in {phases}")

    def items(self, api_version: str, plural: str, namespace: str) -> list[dict[str, Any]]:
        return list(self.api.list(api_path(api_version, plural, namespace)))


def _promop_version(plural: str) -> str:
    return "v1" if plural == "prometheusrules" else "v1alpha1"


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in status.get("conditions") or [] if c.get("type") == kind]
    assert found, f"no {kind} condition in {status}"
    return dict(found[0])


class OperatorProcess:
    """`alertplane operator` as a child process, with its log kept for failures."""

    def __init__(
        self, env: KubeEnv, args: list[str], log: Path, kubeconfig: Path | None = None
    ) -> None:
        self.env = env
        self.args = args
        self.log = log
        self.kubeconfig = kubeconfig or env.kubeconfig
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        cmd = [
            sys.executable,
            "-m",
            "alertplane.cli",
            "operator",
            f"--kubeconfig={self.kubeconfig}",
            f"--metrics-port={self.port}",
            *self.args,
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("ALERTPLANE_DB", "KUBECONFIG")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", *cmd],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"operator exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"operator not ready within {timeout}s:\n{self.tail()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"metric {name} not exported")

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextmanager
def running(op: OperatorProcess) -> Iterator[OperatorProcess]:
    op.start()
    try:
        yield op
    finally:
        op.stop()


def as_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)


def compare_golden(case: str, actual: dict[str, str], update: bool) -> None:
    root = GOLDEN / case
    if update:
        for path in root.rglob("*.yaml") if root.exists() else []:
            path.unlink()
        for rel, content in actual.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(content, encoding="utf-8")
        return
    expected = {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.yaml"))}
    assert sorted(actual) == sorted(expected), "generated objects differ from the golden set"
    for rel in expected:
        assert actual[rel] == expected[rel], f"{case}/{rel} differs (--update-golden, review)"


def setup_examples(cluster: Cluster) -> None:
    for cid in EXAMPLE_CUSTOMERS:
        cluster.namespace(cid, cid)
    cluster.secret("acme", "acme-pagerduty", {"routing-key": "pd-key-for-tests"})
    cluster.secret("acme", "acme-slack", {"webhook-url": "https://hooks.slack.example/T/B/x"})


def operator_rbac(
    namespace: str,
    account: str,
    sink: str,
    sink_namespace: str,
    binding: bool = True,
    watched: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Exactly the RBAC the operator needs, as the README lists it: cluster-wide, or (with
    `watched`) Roles in the watched namespaces and only Namespaces cluster-wide."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": ["alertplane.io"], "resources": list(PLURAL.values()),
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["alertplane.io"], "resources": [f"{p}/status" for p in PLURAL.values()],
         "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]  # fmt: skip
    if sink == "prometheus-operator":
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    cluster_rules: list[dict[str, Any]] = [] if watched else rules
    if binding:
        verbs = ["get", "list", "watch"] if watched else ["list", "watch"]
        cluster_rules = [
            *cluster_rules,
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": verbs},
        ]
    write = ["list", "create", "patch", "delete"]
    sink_rules: list[dict[str, Any]] = []
    if sink == "configmap":
        sink_rules.append({"apiGroups": [""], "resources": ["configmaps"], "verbs": write})
    elif sink == "prometheus-operator":
        sink_rules += [
            {"apiGroups": ["monitoring.coreos.com"],
             "resources": ["prometheusrules", "alertmanagerconfigs"], "verbs": write},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": write},
        ]  # fmt: skip
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    out: list[dict[str, Any]] = []
    if cluster_rules:
        out += _bound("ClusterRole", {"name": account}, cluster_rules, subject)
    if sink_rules:
        out += _bound("Role", {"name": f"{account}-sink", "namespace": sink_namespace},
                      sink_rules, subject)  # fmt: skip
    for ns in watched:
        out += _bound("Role", {"name": account, "namespace": ns}, rules, subject)
    return out


def _bound(
    kind: str, meta: dict[str, str], rules: list[dict[str, Any]], subject: list[dict[str, str]]
) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io/v1"
    binding = "ClusterRoleBinding" if kind == "ClusterRole" else "RoleBinding"
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": meta["name"]}
    return [
        {"apiVersion": rbac, "kind": kind, "metadata": meta, "rules": rules},
        {"apiVersion": rbac, "kind": binding, "metadata": meta, "roleRef": ref,
         "subjects": subject},
    ]  # fmt: skip

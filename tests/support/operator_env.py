"""Helpers for the operator tests: a real API server with our CRDs, the operator as a process.

The operator runs as `alertplane operator` in a subprocess, exactly as in a pod, so a test
can SIGKILL it and start it again. Everything waits by polling with a deadline.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kopf

from alertplane.kube.client import KubeClient
from alertplane.kube.paths import api_path
from tests.support.chart_env import RBAC_KINDS, operator_args, render
from tests.support.k8s_env import ROOT, KubeEnv
from tests.support.processes import free_port

T = TypeVar("T")
API = "alertplane.io/v1alpha1"
PLURAL = {
    "CustomerAlert": "customeralerts",
    "CustomerReceiver": "customerreceivers",
    "CustomerRecordingRule": "customerrecordingrules",
}
PROMOP_CRDS = ("prometheusrules", "alertmanagerconfigs")
GOLDEN = ROOT / "tests" / "golden" / "operator"
# A refused request in the operator's log: the API server's message ("... is forbidden: User
# ... cannot ...") as ApiError and kopf report it, or the bare status. (Not a bare "403":
# log timestamps have milliseconds.)
_FORBIDDEN = re.compile(r"forbidden|HTTP 403", re.IGNORECASE)
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
        self.env.wait_established(*names)
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

    def forbidden(self) -> list[str]:
        """Log lines about a request the API server refused (403): RBAC missing something."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if _FORBIDDEN.search(line)]

    def assert_no_forbidden(self) -> None:
        found = self.forbidden()
        assert not found, "the operator was refused (403):\n" + "\n".join(found[:20])

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextmanager
def started_cluster(sink_namespace: str = "monitoring") -> Iterator[Cluster]:
    """A fresh API server with our CRDs and the sink namespace: each e2e module's cluster."""
    with KubeEnv() as env:
        c = Cluster(env)
        c.install_crds()
        c.namespace(sink_namespace)
        yield c


@contextmanager
def running(op: OperatorProcess) -> Iterator[OperatorProcess]:
    """The operator for the block; afterwards (when the block passed) its log must show no
    request the API server refused."""
    op.start()
    try:
        yield op
    finally:
        op.stop()
    op.assert_no_forbidden()


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


RELEASE_NS = "alertplane-system"


@dataclass
class ChartOperator:
    """The operator as the Helm chart deploys it: `helm template` with the test's values,
    the chart's ServiceAccount and RBAC applied, a kubeconfig with that ServiceAccount's
    token (so every call the operator makes is authorized by the chart's RBAC alone), and
    the chart Deployment's operator flags."""

    docs: list[dict[str, Any]]
    namespace: str
    account: str
    kubeconfig: Path

    def args(self, **replace: str) -> list[str]:
        """The Deployment's flags; `--metrics-port` is left to OperatorProcess (a free port),
        `replace` swaps in-pod paths for local ones (`webhook_cert="/tmp/..."`)."""
        out = []
        for arg in operator_args(self.docs):
            flag, eq, _ = arg.partition("=")
            key = flag.removeprefix("--").replace("-", "_")
            if flag == "--metrics-port":
                continue
            out.append(f"{flag}={replace[key]}" if eq and key in replace else arg)
        return out

    def webhook_config(self, host: str = "127.0.0.1") -> dict[str, Any]:
        """The chart's ValidatingWebhookConfiguration, calling the operator on `host` at the
        chart's port and paths (KubeEnv has no Service routing, so a URL replaces the Service)."""
        (vwc,) = [d for d in self.docs if d["kind"] == "ValidatingWebhookConfiguration"]
        vwc = copy.deepcopy(vwc)
        for hook in vwc["webhooks"]:
            svc = hook["clientConfig"].pop("service")
            hook["clientConfig"]["url"] = f"https://{host}:{svc['port']}{svc['path']}"
        return vwc


def chart_operator(
    env: KubeEnv, values: dict[str, Any], release: str, namespace: str = RELEASE_NS
) -> ChartOperator:
    """Render the chart for `values` and apply its ServiceAccount and RBAC (Roles go into the
    sink and watched namespaces, which must exist). Nothing else is granted."""
    # One operator process unless the test says otherwise: the chart's default of two
    # replicas would add leader election (tests/e2e/test_operator_leader.py runs several).
    docs = render({"replicas": 1, **values}, release, namespace)
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    # The operator's own account (createObjects adds one for Prometheus in the sink namespace).
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    account = deploy["spec"]["template"]["spec"]["serviceAccountName"]
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    env.apply(ns, *rbac)
    token = env.create_token(namespace, account, create=False)
    kubeconfig = env.write_kubeconfig(token, user=f"{namespace}-{account}")
    return ChartOperator(docs, namespace, account, kubeconfig)


def self_signed(d: Path) -> tuple[Path, Path]:
    cert, key = d / "tls.crt", d / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=alertplane-webhook", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def webhook_chart_operator(
    env: KubeEnv, tmp: Path, namespace: str, release: str
) -> tuple[ChartOperator, list[str]]:
    """The chart's operator watching `namespace` with its admission webhook on (ConfigMap
    sink, a self-signed certificate in `tmp`, a free port): its chart objects (RBAC
    applied; `webhook_config()` to register the webhook) and its arguments."""
    cert, key = self_signed(tmp)
    values = {
        "sink": {"type": "configmap", "namespace": "default"},
        "watchNamespaces": [namespace],
        "webhook": {
            "enabled": True,
            "port": free_port(),
            "timeoutSeconds": 15,
            "certManager": {"enabled": False},
            "existingSecret": "alertplane-webhook-tls",
            "caBundle": base64.b64encode(cert.read_bytes()).decode(),
        },
    }
    chart = chart_operator(env, values, release)
    return chart, chart.args(webhook_cert=str(cert), webhook_key=str(key))

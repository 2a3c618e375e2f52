"""The real prometheus-operator (PO) in tests: run out of cluster against a KubeEnv, with every
monitoring.coreos.com CRD installed, and read what it generates.

    with promop_running(cluster.env, tmp, namespaces=["monitoring"]) as po:
        wait_reconciled(cluster, "prometheuses", "monitoring", "main")
        rules = rule_files(cluster, "monitoring", "main")       # {file name: parsed rule file}
        config = alertmanager_config(cluster, "monitoring", "main")  # the merged alertmanager.yaml

The binaries (operator, alertmanager, amtool: the Alertmanager PO v0.85 targets) come from
hack/promop/build.sh (built once into a cache outside the repo) unless $ALERTPLANE_PROMOP_BIN
names a directory holding them. The API server has no kubelet: PO creates the StatefulSets, no
pod ever runs, so the Prometheus/Alertmanager objects stay unavailable; what PO generates (rule
ConfigMaps, the Alertmanager config Secret) and its Reconciled condition are what counts here.
PO's log is kept; `promop_running` adds its tail to any failure inside the block.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from alertplane.kube.paths import api_path
from tests.support.k8s_env import ROOT, KubeEnv
from tests.support.operator_env import Cluster, wait_for
from tests.support.processes import Alertmanager, Prometheus, free_port

BUILD_SH = ROOT / "hack" / "promop" / "build.sh"
CRDS_SH = ROOT / "hack" / "k8s" / "promop-crds.sh"
MONITORING = "monitoring.coreos.com"
# The kinds PO serves (file monitoring.coreos.com_<plural>.yaml) and the version we read.
PLURALS = {
    "alertmanagerconfigs": "v1alpha1",
    "alertmanagers": "v1",
    "podmonitors": "v1",
    "probes": "v1",
    "prometheusagents": "v1alpha1",
    "prometheuses": "v1",
    "prometheusrules": "v1",
    "scrapeconfigs": "v1alpha1",
    "servicemonitors": "v1",
    "thanosrulers": "v1",
}


class PromOpError(RuntimeError):
    """A build or a start failed; the message carries the relevant output."""


@functools.cache
def bin_dir() -> Path:
    """operator, alertmanager and amtool, built on first use (a cold build takes minutes)."""
    if env := os.environ.get("ALERTPLANE_PROMOP_BIN"):
        return Path(env)
    # stderr is not captured: a first build should show its progress.
    proc = subprocess.run(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise PromOpError(f"{BUILD_SH} failed (exit {proc.returncode}); see its stderr")
    return Path(lines[-1])


def install_crds(cluster: Cluster) -> None:
    """Every monitoring.coreos.com CRD PO watches (it will not start its controllers without
    them), server-side applied over the two the operator tests already install."""
    crds = subprocess.run(
        ["bash", str(CRDS_SH)], check=True, capture_output=True, text=True
    ).stdout.strip()
    files = [f"{crds}/{MONITORING}_{plural}.yaml" for plural in PLURALS]
    cluster.env.kubectl(
        "apply", "--server-side", "--force-conflicts", *[a for f in files for a in ("-f", f)]
    )
    cluster.env.wait_established(*(f"{p}.{MONITORING}" for p in PLURALS))
    for plural, version in PLURALS.items():
        path = api_path(f"{MONITORING}/{version}", plural)
        wait_for(_lists(cluster, path), 30, f"{plural} served")


def _lists(cluster: Cluster, path: str) -> Callable[[], bool]:
    def check() -> bool:
        cluster.api.request("GET", path)
        return True

    return check


class PromOp:
    """The prometheus-operator binary as a child process (admin kubeconfig, its log kept)."""

    def __init__(self, env: KubeEnv, log: Path, namespaces: Sequence[str]) -> None:
        self.env = env
        self.log = log
        self.namespaces = list(namespaces)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            str(bin_dir() / "operator"),
            # Without a kubelet there is nothing to list into a kubelet Service.
            "--kubelet-service=",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *(f"--namespaces={ns}" for ns in self.namespaces),
            "--log-level=debug",
        ]

    def start(self, timeout: float = 90.0) -> PromOp:
        # PO reads KUBECONFIG (k8sutil.NewClusterConfig): the admin token, as the API server
        # authenticates tokens only. PO's own RBAC is not what these tests are about.
        env = {**os.environ, "KUBECONFIG": str(self.env.kubeconfig)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", *self.command()],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PromOpError(f"operator exited {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise PromOpError(f"prometheus-operator not healthy within {timeout:g}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextmanager
def promop_running(cluster: Cluster, tmp: Path, namespaces: Sequence[str]) -> Iterator[PromOp]:
    """PO (with all its CRDs installed) for the block; a failure inside gets PO's log tail."""
    install_crds(cluster)
    po = PromOp(cluster.env, tmp / "prometheus-operator.log", namespaces).start()
    try:
        yield po
    except BaseException as exc:
        exc.add_note(f"--- prometheus-operator log ({po.log}), last lines:\n{po.tail(120)}")
        raise
    finally:
        po.stop()


# -- what PO generates -------------------------------------------------------------------------


def get(cluster: Cluster, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    return cluster.api.get(api_path(f"{MONITORING}/{PLURALS[plural]}", plural, namespace, name))


def reconciled(cluster: Cluster, plural: str, namespace: str, name: str) -> dict[str, Any]:
    """The Reconciled condition of a Prometheus/Alertmanager object for its current
    generation, or {} while PO has not reported on that generation."""
    obj = get(cluster, plural, namespace, name)
    if obj is None:
        return {}
    gen = obj["metadata"].get("generation")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Reconciled" and cond.get("observedGeneration") == gen:
            return dict(cond)
    return {}


def wait_reconciled(
    cluster: Cluster, plural: str, namespace: str, name: str, timeout: float = 90.0
) -> dict[str, Any]:
    """Until PO reported Reconciled=True on the object's current generation."""

    def check() -> dict[str, Any] | None:
        found = reconciled(cluster, plural, namespace, name)
        assert found.get("status") != "False", f"{plural} {namespace}/{name}: {found}"
        return found if found.get("status") == "True" else None

    return wait_for(check, timeout, f"{plural} {namespace}/{name} Reconciled=True")


def rule_files(cluster: Cluster, namespace: str, prometheus: str) -> dict[str, Any]:
    """Every rule file PO generated for Prometheus `namespace/prometheus` (ConfigMaps
    `prometheus-<name>-rulefiles-N`, selected by PO's labels), parsed: {file name: content}."""
    out: dict[str, Any] = {}
    for cm in cluster.items("v1", "configmaps", namespace):
        labels = cm["metadata"].get("labels") or {}
        if (
            labels.get("managed-by") == "prometheus-operator"
            and labels.get("prometheus-name") == prometheus
        ):
            for key, text in (cm.get("data") or {}).items():
                out[key] = yaml.safe_load(text)
    return out


def alertmanager_config_text(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The alertmanager.yaml PO generated for Alertmanager `namespace/name` (Secret
    `alertmanager-<name>-generated`, key alertmanager.yaml.gz), or None before it exists."""
    secret = cluster.api.get(api_path("v1", "secrets", namespace, f"alertmanager-{name}-generated"))
    if secret is None or "alertmanager.yaml.gz" not in (secret.get("data") or {}):
        return None
    return gzip.decompress(base64.b64decode(secret["data"]["alertmanager.yaml.gz"])).decode()


def alertmanager_config(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    text = alertmanager_config_text(cluster, namespace, name)
    return None if text is None else dict(yaml.safe_load(text))


def warning_events(cluster: Cluster, namespace: str, kind: str, name: str) -> list[str]:
    """The messages of Warning Events on one object (PO reports rejected objects so)."""
    out = []
    for ev in cluster.items("v1", "events", namespace):
        obj = ev.get("involvedObject") or {}
        if ev.get("type") == "Warning" and obj.get("kind") == kind and obj.get("name") == name:
            out.append(str(ev.get("message", "")))
    return out


class Alertmanager028(Alertmanager):
    """The Alertmanager PO v0.85 targets (0.28.1, built by hack/promop/build.sh), not
    Debian's 0.25: the generated config uses what 0.28 understands."""

    def command(self) -> list[str]:
        cmd = super().command()
        return [str(bin_dir() / "alertmanager"), *cmd[1:]]


class EagerPrometheus(Prometheus):
    """Prometheus that re-sends firing alerts every second (default 1m): its first send
    happens at the first evaluation, usually before its notifier has discovered the
    Alertmanager, and that send is dropped; the next would come a minute later."""

    def command(self) -> list[str]:
        return [*super().command(), "--rules.alert.resend-delay=1s"]


def amtool() -> str:
    return str(bin_dir() / "amtool")


def as_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)


# -- routing: the generated config against alertplane's own render ---------------------------


def normalize_receiver(name: str, sink_ns: str) -> str:
    """PO's receiver name as alertplane's render names it: `<ns>/alertplane-<id>/<r>` is
    `<id>/<r>`; the base config's default and each customer's copy of it (`platform_default`)
    are `platform-default`."""
    if name == f"{sink_ns}/alertplane.platform/platform-default":
        return "platform-default"
    prefix = f"{sink_ns}/alertplane-"
    if not name.startswith(prefix):
        return name  # not alertplane's: left as is, so a comparison shows it
    cid, _, receiver = name.removeprefix(prefix).partition("/")
    return "platform-default" if receiver == "platform_default" else f"{cid}/{receiver}"


def routes_test(config: Path, labels: dict[str, str]) -> list[str]:
    """`amtool config routes test` with the amtool PO targets (0.28)."""
    matchers = [f'{k}="{v}"' for k, v in sorted(labels.items())]
    proc = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *matchers],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"amtool config routes test {matchers} failed:\n{proc.stderr}")
    return [r.strip() for r in proc.stdout.split(",") if r.strip()]

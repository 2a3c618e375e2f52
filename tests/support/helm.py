"""The Helm chart in tests: a `helm` runner (the binary hack/helm/build.sh builds), the
RBAC the operator needs, small readers of rendered manifests, and a real API server with
the CRDs the chart's objects need plus a way to ask what a token may do there."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from alertplane.model.kinds import TABLE
from tests.support.chart_env import CHART
from tests.support.k8s_env import KubeEnv
from tests.support.paths import ROOT

PROMOP_CRDS = ROOT / "hack" / "k8s" / "promop-crds.sh"
SYNC = "hack/helm/sync-chart-files.sh"

RELEASE = "ap"
NS = "alertplane-system"
FULLNAME = "ap-alertplane"

Doc = dict[str, Any]
Rules = set[tuple[str, str, str]]  # (apiGroup, resource, verb)

# What the operator calls (charts/alertplane/README.md "Permissions"), expanded.
# Tenant binding, cluster-wide (kopf watches cluster-scoped kinds cluster-wide even in
# namespace mode); `get` only in namespace mode, where the watched namespaces are read by name.
NAMESPACE_RULES: Rules = {("", "namespaces", "list"), ("", "namespaces", "watch")}
NAMESPACE_GET: Rules = {("", "namespaces", "get")}
# In every watched namespace (a ClusterRole when cluster-wide): watch, finalizer (get +
# patch), status, Warning Events.
CR_RULES: Rules = {
    (g, r, v)
    for g, r, verbs in [
        ("alertplane.io", "customeralerts", "get list watch patch"),
        ("alertplane.io", "customerreceivers", "get list watch patch"),
        ("alertplane.io", "customerrecordingrules", "get list watch patch"),
        ("alertplane.io", "customerslos", "get list watch patch"),
        ("alertplane.io", "customeralerts/status", "patch"),
        ("alertplane.io", "customerreceivers/status", "patch"),
        ("alertplane.io", "customerrecordingrules/status", "patch"),
        ("alertplane.io", "customerslos/status", "patch"),
        ("", "events", "create"),
    ]
    for v in verbs.split()
}
# prometheus-operator and mimir sinks: the Secrets receivers reference, read by name to be
# copied (prometheus-operator) or inlined into the tenant's configuration in Mimir (mimir).
SECRET_READ: Rules = {("", "secrets", "get")}
# The sink namespace: one list at start, server-side apply (create or patch), delete.
WRITE = ["list", "create", "patch", "delete"]
SINK_RULES: dict[str, Rules] = {
    "files": set(),
    "mimir": set(),  # writes nothing into the cluster
    "configmap": {("", "configmaps", v) for v in WRITE},
    "prometheus-operator": {
        (g, r, v)
        for g, r in [
            ("monitoring.coreos.com", "prometheusrules"),
            ("monitoring.coreos.com", "alertmanagerconfigs"),
            ("", "secrets"),
        ]
        for v in WRITE
    },
}


# prometheus-operator liveness (sink.prometheusOperator; README "Permissions"), per
# namespace, with resourceNames where RBAC can restrict them (a label-selected list cannot be):
# (apiGroup, resource, verb, resourceNames).
NamedRules = set[tuple[str, str, str, tuple[str, ...]]]
MONITORING = "monitoring.coreos.com"


def live_rules(
    prometheus: tuple[str, ...] = (), alertmanager: tuple[str, ...] = (), events: bool = True
) -> NamedRules:
    """What the operator reads in one namespace to tell whether prometheus-operator loaded
    its output: the named Prometheus objects and their generated rule ConfigMaps; the named
    Alertmanagers and their alertmanager-<name>-generated Secrets; in the sink namespace,
    the Events (InvalidConfiguration) on the PrometheusRules/AlertmanagerConfigs."""
    out: NamedRules = set()
    if prometheus:
        out |= {(MONITORING, "prometheuses", "get", prometheus), ("", "configmaps", "list", ())}
    if alertmanager:
        generated = tuple(f"alertmanager-{n}-generated" for n in alertmanager)
        out |= {
            (MONITORING, "alertmanagers", "get", alertmanager),
            ("", "secrets", "get", generated),
        }
    if events:
        out.add(("", "events", "list", ()))
    return out


def named_rules(role: Doc) -> NamedRules:
    return {
        (g, r, v, tuple(rule.get("resourceNames", ())))
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def watched_rules(sink: str) -> Rules:
    return CR_RULES | (SECRET_READ if sink in ("prometheus-operator", "mimir") else set())


class Helm:
    def __init__(self, binary: Path, env: dict[str, str], tmp: Path) -> None:
        self.binary, self.env, self.tmp = binary, env, tmp
        self._n = 0

    def run(
        self, *args: str, values: Doc | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.binary), *args]
        if values is not None:
            self._n += 1
            path = self.tmp / f"values-{self._n}.yaml"
            path.write_text(yaml.safe_dump(values))
            cmd += ["-f", str(path)]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env={**self.env, **(env or {})}
        )

    def template_text(self, values: Doc | None = None, namespace: str = NS) -> str:
        proc = self.run("template", RELEASE, str(CHART), "-n", namespace, values=values)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def template(self, values: Doc | None = None, namespace: str = NS) -> list[Doc]:
        return [d for d in yaml.safe_load_all(self.template_text(values, namespace)) if d]

    def template_error(self, values: Doc) -> str:
        proc = self.run("template", RELEASE, str(CHART), "-n", NS, values=values)
        assert proc.returncode != 0, f"rendered although it should not:\n{proc.stdout[:2000]}"
        return proc.stderr


def one(docs: list[Doc], kind: str, name: str | None = None, namespace: str | None = None) -> Doc:
    found = [
        d
        for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return found[0]


def kinds(docs: list[Doc]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def container(docs: list[Doc]) -> Doc:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["operator"]
    result: Doc = pod["containers"][0]
    return result


def argv(docs: list[Doc]) -> list[str]:
    c = container(docs)
    return [*c["command"], *c["args"]]


def rules(role: Doc) -> Rules:
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def flat(rules_: Rules) -> list[str]:
    return sorted(f"{g or 'core'}/{r}:{v}" for g, r, v in rules_)


ALL_ON: Doc = {
    "watchNamespaces": ["team-a", "team-b"],
    "sink": {"type": "configmap", "namespace": "monitoring"},
    "database": {"existingSecret": "alertplane-db"},
    "webhook": {"enabled": True},
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "platform": {"alertmanager": {"route": {"group_by": ["customer_id", "alertname"]}}},
}


# `alertplane serve --kubernetes`: read one object, create, replace, annotate before a
# delete, delete. No list/watch (it reads the operator's database), no status, no Secrets.
API_RULES: Rules = {
    ("alertplane.io", r, v)
    for r in ("customeralerts", "customerreceivers", "customerrecordingrules", "customerslos")
    for v in ("get", "create", "update", "patch", "delete")
}


# Tenant binding: the namespaces' alertplane.io/customer label (one list, cached briefly),
# cluster-wide in every mode (its own ClusterRole).
API_NAMESPACE_RULES: Rules = {("", "namespaces", "list")}


API_ON: Doc = {"api": {"enabled": True, "tokensSecret": "api-tokens"},
               "database": {"existingSecret": "alertplane-db"}}  # fmt: skip


def operator_args(docs: list[Doc]) -> list[str]:
    pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    args: list[str] = pod["containers"][0]["args"]
    return args


@contextmanager
def chart_kube(*namespaces: str) -> Iterator[KubeEnv]:
    """A real API server with the chart's CRDs and every monitoring.coreos.com CRD of the
    pinned prometheus-operator (hack/k8s/promop-crds.sh), and these namespaces."""
    with KubeEnv() as env:
        out = subprocess.run(
            ["bash", str(PROMOP_CRDS)], stdout=subprocess.PIPE, text=True, check=True
        )
        promop = sorted(
            Path(out.stdout.strip().splitlines()[-1]).glob("monitoring.coreos.com_*.yaml")
        )
        assert len(promop) >= 10, promop  # Prometheus, Alertmanager, ... not only the sink's two
        env.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
        for crd in promop:
            env.kubectl("apply", "--server-side", "-f", str(crd))
        crds = json.loads(env.kubectl("get", "crd", "-o", "json").stdout)["items"]
        ours = len(list((CHART / "crds").glob("*.yaml")))
        assert ours == len(TABLE), sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
        assert len(crds) == ours + len(promop), [c["metadata"]["name"] for c in crds]
        env.wait_established(*(crd["metadata"]["name"] for crd in crds))
        for ns in namespaces:
            env.kubectl("create", "namespace", ns)
        yield env


def helm_install(helm: Helm, kube: KubeEnv, release: str, values: Doc) -> None:
    proc = helm.run(
        "install", release, str(CHART), "-n", NS, values=values,
        env={"KUBECONFIG": str(kube.kubeconfig)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "alertplane operator" in proc.stdout  # NOTES.txt


class Access:
    """Ask the API server what a bearer token may do (SelfSubjectAccessReview, as the token)."""

    def __init__(self, kube: KubeEnv, token: str) -> None:
        self.kube, self.token = kube, token
        self.ctx = ssl.create_default_context(cafile=str(kube.ca_file))

    def can(
        self, verb: str, resource: str, namespace: str = "", group: str = "", name: str = ""
    ) -> bool:
        resource, _, sub = resource.partition("/")
        attrs = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
        if sub:
            attrs["subresource"] = sub
        if name:
            attrs["name"] = name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        req = urllib.request.Request(
            f"{self.kube.server}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as resp:
            return bool(json.load(resp)["status"]["allowed"])

    def check(self, rules_: Rules, namespace: str) -> list[str]:
        """The rules this token cannot exercise in namespace ('' = cluster-wide)."""
        return [f"{g or 'core'}/{r}:{v}" for g, r, v in sorted(rules_)
                if not self.can(v, r, namespace, g)]  # fmt: skip

    def check_named(self, rules_: NamedRules, namespace: str) -> list[str]:
        """Like check, for each resource name of a rule that names them."""
        return [f"{g or 'core'}/{r}/{n}:{v}" for g, r, v, names in sorted(rules_)
                for n in names or ("",) if not self.can(v, r, namespace, g, n)]  # fmt: skip

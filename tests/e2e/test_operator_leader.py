"""Leader election on a real API server: three `alertplane operator` processes deployed as
the chart deploys three replicas (its flags, its RBAC: the Lease Role included), one Lease.

Who wrote what comes from the API server's audit log: each replica's requests carry its
Lease identity as User-Agent (`alertplane-operator/<identity>`), so every write is
attributed to the process that sent it, without trusting the processes' own reports.

- exactly one replica writes (statuses, finalizers, output ConfigMaps, Events);
- every replica serves the admission webhook, the standbys too;
- SIGKILL the leader: another takes the Lease and reconciles what changed meanwhile;
- SIGSTOP the leader until another leads, change things, SIGCONT: the resumed one sends
  no write at all (its fence sees the lease expired on its own clock) and exits 4;
- SIGTERM the leader: it releases the Lease, another takes over at its next retry;
- across all of it every object ends Synced at its generation, and the output holds each
  rule exactly once (none lost, none doubled).

The failover times are printed (benchmarks/README.md "Operator failover"); no timing
decides the outcome.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.kube.paths import api_path
from tests.support.factories import alert, receiver
from tests.support.k8s_env import KubeEnv
from tests.support.operator_env import (
    RELEASE_NS,
    Cluster,
    OperatorProcess,
    chart_operator,
    self_signed,
    wait_for,
)
from tests.support.processes import free_port

CUSTOMERS = ("lead-a", "lead-b", "lead-c")
SINK_NS = "monitoring"
RELEASE = "lead"
LEASE = f"{RELEASE}-alertplane"
AGENT = "alertplane-operator/"
EXIT_LEASE_LOST = 4
# Short, so the test is quick, yet long enough for a loaded 2-core machine to renew in time.
ELECTION = {"leaseDuration": 8, "renewDeadline": 6, "retryPeriod": 2}
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete"]},
        {"level": "None"},
    ],
}


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path]]:
    """An API server of its own, writing an audit line per write request."""
    d = tmp_path_factory.mktemp("audit")
    policy, log = d / "policy.yaml", d / "audit.log"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    audit_args = [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={log}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",  # each line written before the answer
    ]
    with KubeEnv(apiserver_args=audit_args) as env:
        cluster = Cluster(env)
        cluster.install_crds()
        cluster.namespace(SINK_NS)
        for cid in CUSTOMERS:
            cluster.namespace(cid, cid)
        yield cluster, log


class Audit:
    def __init__(self, path: Path) -> None:
        self.path = path

    def writes(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Write requests by operator replicas received at or after `since` (Unix time)."""
        out = []
        for line in self.path.read_text().splitlines():
            event = json.loads(line)
            if not str(event.get("userAgent", "")).startswith(AGENT):
                continue
            if _unix(event["requestReceivedTimestamp"]) >= since:
                out.append(event)
        return out

    @staticmethod
    def by(identity: str, events: list[dict[str, Any]], lease: bool = False) -> list[Any]:
        """`identity`'s writes: to the Lease (`lease`), or to everything else."""
        return [
            e
            for e in events
            if e["userAgent"] == AGENT + identity
            and (e["objectRef"].get("resource") == "leases") == lease
        ]


def _expr(metric: str, customer: str, above: float) -> str:
    return f'{metric}{{customer_id="{customer}"}} > {above}'


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _identity(op: OperatorProcess) -> tuple[str, float]:
    """(Lease identity, alertplane_leader) from the replica's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"{op.url}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('alertplane_leader{identity="'):
                ident = line.split('"')[1]
                return ident, float(line.rsplit(" ", 1)[1])
    raise AssertionError("alertplane_leader not exported")


def _holder(cluster: Cluster) -> str:
    lease = cluster.api.get(api_path("coordination.k8s.io/v1", "leases", RELEASE_NS, LEASE)) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _rules(cluster: Cluster) -> list[tuple[str, str]]:
    """(customer_id, alert) of every rule in the output ConfigMaps, duplicates kept."""
    found = []
    for cm in cluster.items("v1", "configmaps", SINK_NS):
        if cm["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") != "alertplane":
            continue
        for text in (cm.get("data") or {}).values():
            doc = yaml.safe_load(text) or {}
            for group in doc.get("groups") or [] if isinstance(doc, dict) else []:
                for rule in group.get("rules") or []:
                    found.append((rule["labels"]["customer_id"], rule["alert"]))
    return found


def _all_synced(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        meta = obj["metadata"]
        cluster.wait_phase(obj["kind"], meta["namespace"], meta["name"], timeout=90)


def _replicas(cluster: Cluster, tmp: Path, n: int) -> tuple[list[OperatorProcess], list[int], Path]:
    cert, key = self_signed(tmp)
    values = {
        "replicas": n,
        "leaderElection": ELECTION,
        "sink": {"type": "configmap", "namespace": SINK_NS},
        "watchNamespaces": list(CUSTOMERS),
        "webhook": {
            "enabled": True,
            "port": free_port(),
            "timeoutSeconds": 15,
            "certManager": {"enabled": False},
            "existingSecret": "alertplane-webhook-tls",
            "caBundle": base64.b64encode(cert.read_bytes()).decode(),
        },
    }
    chart = chart_operator(cluster.env, values, RELEASE)
    ports = [free_port() for _ in range(n)]
    ops = [
        OperatorProcess(
            cluster.env,
            chart.args(webhook_cert=str(cert), webhook_key=str(key), webhook_port=str(port)),
            tmp / f"operator-{i}.log",
            chart.kubeconfig,
        )
        for i, port in enumerate(ports)
    ]
    vwc = chart.webhook_config()
    return ops, ports, _write_vwc(tmp, vwc)


def _write_vwc(tmp: Path, vwc: dict[str, Any]) -> Path:
    path = tmp / "vwc.yaml"
    path.write_text(yaml.safe_dump(vwc))
    return path


def _leader(cluster: Cluster, ops: list[OperatorProcess]) -> tuple[OperatorProcess, str]:
    """The one live replica holding the Lease, as both the Lease and its metric say."""

    def one() -> tuple[OperatorProcess, str] | None:
        holder = _holder(cluster)
        live = [op for op in ops if op.proc is not None and op.proc.poll() is None]
        roles = [(op, *_identity(op)) for op in live]
        leading = [(op, ident) for op, ident, value in roles if value == 1]
        if holder and len(leading) == 1 and leading[0][1] == holder:
            return leading[0]
        return None

    return wait_for(one, 60, "exactly one leader")


def _webhook_on_standby(cluster: Cluster, vwc_path: Path, port: int, ns: str) -> None:
    """The chart's webhook registered at a standby's port: it refuses an invalid object."""
    vwc = yaml.safe_load(vwc_path.read_text())
    for hook in vwc["webhooks"]:
        url = hook["clientConfig"]["url"]
        hook["clientConfig"]["url"] = url.replace(url.split(":")[2].split("/")[0], str(port))
    cluster.env.apply(vwc)
    bad = receiver(ns) | {"metadata": {"name": "dup", "namespace": ns}}

    def refused() -> str | None:
        proc = cluster.env.kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
        return proc.stderr if "denied the request" in proc.stderr else None

    stderr = wait_for(refused, 60, "the standby's webhook refusal")
    assert f"spec.receiverName: customer '{ns}' already has receiver 'oncall'" in stderr
    cluster.env.kubectl("delete", "validatingwebhookconfiguration", vwc["metadata"]["name"])


def _stop_all(ops: list[OperatorProcess]) -> None:
    for op in ops:
        if op.proc is not None:
            with_cont = op.proc.poll() is None
            if with_cont:
                os.kill(op.proc.pid, signal.SIGCONT)
            op.stop()


def test_one_leader_writes_takes_over_and_a_resumed_one_writes_nothing(
    audited: tuple[Cluster, Path], tmp_path: Path
) -> None:
    cluster, log = audited
    audit = Audit(log)
    ops, ports, vwc = _replicas(cluster, tmp_path, 3)
    try:
        for op in ops:
            op.start(timeout=120)  # ready: listed and watching (standby) or leading
        first, first_id = _leader(cluster, ops)

        objects = [d for cid in CUSTOMERS for d in (alert(cid), receiver(cid))]
        cluster.kubectl_apply(*objects)
        _all_synced(cluster, objects)
        writes = audit.writes()
        assert Audit.by(first_id, writes), "the leader wrote"
        writers = {e["userAgent"] for e in writes if e["objectRef"]["resource"] != "leases"}
        assert writers == {AGENT + first_id}, "only the leader writes"

        # Every replica serves the webhook, with the cluster state it watches.
        standby = next(i for i, op in enumerate(ops) if op is not first)
        _webhook_on_standby(cluster, vwc, ports[standby], CUSTOMERS[0])

        # SIGKILL the leader: another takes the Lease and reconciles what changed meanwhile.
        assert first.proc is not None
        killed_at = time.monotonic()
        first.proc.kill()
        first.proc.wait(10)
        first.proc = None
        second, second_id = _leader(cluster, ops)
        after_kill = time.monotonic() - killed_at
        assert second_id != first_id
        more = [alert(cid, "Latency", expr=_expr("latency_seconds", cid, 2)) for cid in CUSTOMERS]
        cluster.kubectl_apply(*more)
        objects += more
        _all_synced(cluster, objects)

        # SIGSTOP the leader until another leads; change things; SIGCONT it.
        assert second.proc is not None
        stopped = second.proc.pid
        os.kill(stopped, signal.SIGSTOP)
        third, third_id = _leader(cluster, [op for op in ops if op is not second])
        taken_at = time.time()
        changed = [
            alert(cid, "Latency", expr=_expr("latency_seconds", cid, 3)) for cid in CUSTOMERS
        ] + [alert(cid, "Saturation", expr=_expr("saturation", cid, 0.9)) for cid in CUSTOMERS]
        cluster.kubectl_apply(*changed)
        objects = [*objects[: -len(more)], *changed]
        _all_synced(cluster, objects)
        os.kill(stopped, signal.SIGCONT)
        code = second.proc.wait(60)
        second.proc = None
        assert code == EXIT_LEASE_LOST, second.tail()
        late = audit.writes(since=taken_at)
        assert Audit.by(second_id, late) == [], "the resumed leader wrote after losing the lease"
        renewals = Audit.by(second_id, late, lease=True)
        assert all(e["responseStatus"]["code"] >= 400 for e in renewals), renewals
        assert "expired before it was renewed" in second.tail(400)
        _all_synced(cluster, objects)

        # It comes back (as the Deployment restarts it) as a standby.
        second.start(timeout=120)
        assert _identity(second)[1] == 0

        # SIGTERM the leader: it releases the Lease; the restarted replica takes over.
        assert third.proc is not None
        term_at = time.monotonic()
        third.proc.send_signal(signal.SIGTERM)
        last_op, last_id = _leader(cluster, [second])
        after_release = time.monotonic() - term_at
        assert third.proc.wait(30) == 0, third.tail()
        third.proc = None
        assert "released the leader Lease" in third.tail(400)
        final = [alert(cid, "Errors", expr=_expr("errors_total", cid, 5)) for cid in CUSTOMERS]
        cluster.kubectl_apply(*final)
        objects += final
        _all_synced(cluster, objects)

        # Nothing lost, nothing doubled: each object's rule exactly once in the output.
        expected = sorted(
            (o["spec"]["customerId"], o["spec"]["alertName"])
            for o in objects
            if o["kind"] == "CustomerAlert"
        )
        wait_for(lambda: sorted(_rules(cluster)) == expected, 60, "the output's rules")
        print(
            f"\nfailover: {after_kill:.1f}s after SIGKILL (lease {ELECTION['leaseDuration']}s, "
            f"retry {ELECTION['retryPeriod']}s), {after_release:.1f}s after SIGTERM (released)"
        )
        # One writer at a time, handing over in the order the Lease did.
        writes = [e for e in audit.writes() if e["objectRef"].get("resource") != "leases"]
        writes.sort(key=lambda e: _unix(e["requestReceivedTimestamp"]))
        turns = [e["userAgent"].removeprefix(AGENT) for e in writes]
        handovers = [who for i, who in enumerate(turns) if i == 0 or turns[i - 1] != who]
        assert handovers == [first_id, second_id, third_id, last_id]
        for op in ops:
            op.assert_no_forbidden()
        assert last_op is second and last_id not in (first_id, second_id)
    finally:
        _stop_all(ops)

"""Operator failover time on a real kube-apiserver (docs/operator.md "Leader election").

Two `alertplane operator --leader-elect` processes (configmap sink) share one Lease. Each
round: SIGKILL the leader and time until the other holds the Lease and until a change
made right after the kill is Synced; restart the killed one (as a Deployment would); then
SIGTERM the leader (it releases the Lease) and time the same. The Lease is polled every
50 ms, so times are ±0.05 s plus the poll's own latency.

    PYTHONPATH=operator:. python3 benchmarks/bench_failover.py --rounds 3
    PYTHONPATH=operator:. python3 benchmarks/bench_failover.py --lease 8 --renew 6 --retry 2
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.support.factories import alert
from tests.support.operator_env import Cluster, OperatorProcess, started_cluster

from alertplane.kube.paths import api_path

NS = "alertplane-system"
LEASE = "bench-failover"
CUSTOMER = "bench-co"


def holder(cluster: Cluster) -> str:
    lease = cluster.api.get(api_path("coordination.k8s.io/v1", "leases", NS, LEASE)) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def until(check: object, timeout: float = 120.0) -> float:
    """Seconds until `check()` is truthy (polled every 50 ms)."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not within {timeout:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - start


def synced(cluster: Cluster, name: str) -> bool:
    obj = cluster.get("CustomerAlert", CUSTOMER, name)
    st = (obj or {}).get("status") or {}
    return (
        bool(obj)
        and st.get("observedGeneration") == obj["metadata"]["generation"]
        and (st.get("phase") == "Synced")
    )


def failover(
    cluster: Cluster, ops: list[OperatorProcess], sig: signal.Signals, n: int
) -> tuple[float, float]:
    """(s until another replica holds the Lease, s until a change made then is Synced)."""
    before = holder(cluster)
    leader = next(op for op in ops if op.proc and before.startswith(_pid_tag(op)))
    assert leader.proc is not None
    name = f"{CUSTOMER}-failover{n}"
    expr = f'up{{customer_id="{CUSTOMER}"}} == {n}'
    leader.proc.send_signal(sig)
    cluster.kubectl_apply(alert(CUSTOMER, f"Failover{n}", expr=expr))
    took = until(lambda: holder(cluster) not in ("", before))
    done = until(lambda: synced(cluster, name)) + took
    leader.proc.wait(30)
    leader.proc = None
    start(leader)  # back as a standby, as the Deployment restarts it
    return took, done


def _pid_tag(op: OperatorProcess) -> str:
    return f"bench-{op.port}_"


def start(op: OperatorProcess) -> None:
    """Started with POD_NAME bench-<its metrics port>: its Lease identity names it."""
    os.environ["POD_NAME"] = f"bench-{op.port}"
    try:
        op.start(timeout=180)
    finally:
        os.environ.pop("POD_NAME")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--lease", type=int, default=15)
    p.add_argument("--renew", type=float, default=10.0)
    p.add_argument("--retry", type=float, default=2.0)
    args = p.parse_args()
    flags = [
        "--sink=configmap", "--sink-namespace=monitoring", f"--namespace={CUSTOMER}",
        "--leader-elect", f"--leader-election-namespace={NS}", f"--leader-election-name={LEASE}",
        f"--leader-lease-duration={args.lease}", f"--leader-renew-deadline={args.renew}",
        f"--leader-retry-period={args.retry}",
    ]  # fmt: skip
    kill: list[tuple[float, float]] = []
    term: list[tuple[float, float]] = []
    with started_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        cluster.namespace(NS)
        cluster.namespace(CUSTOMER, CUSTOMER)
        ops = [OperatorProcess(cluster.env, flags, Path(tmp) / f"op{i}.log") for i in range(2)]
        for op in ops:
            start(op)
        until(lambda: holder(cluster) != "")
        for n in range(args.rounds):
            kill.append(failover(cluster, ops, signal.SIGKILL, 2 * n))
            term.append(failover(cluster, ops, signal.SIGTERM, 2 * n + 1))
            print(f"round {n + 1}: SIGKILL {kill[-1]}, SIGTERM {term[-1]}", file=sys.stderr)
        for op in ops:
            op.stop()
    print(f"lease {args.lease}s, renew deadline {args.renew:g}s, retry {args.retry:g}s, "
          f"{args.rounds} rounds, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for what, rows in (("SIGKILL (no release)", kill), ("SIGTERM (released)", term)):
        lease_s = [r[0] for r in rows]
        synced_s = [r[1] for r in rows]
        print(
            f"{what}: new leader after median {statistics.median(lease_s):.1f}s "
            f"(max {max(lease_s):.1f}s); a change made at the kill Synced after median "
            f"{statistics.median(synced_s):.1f}s (max {max(synced_s):.1f}s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The operator under a burst: N CustomerAlerts created at once on a real kube-apiserver.

    python3 benchmarks/bench_operator.py [--sizes 1000,10000] [--per-customer 20]
        [--sink files|configmap] [--clients 8] [--order customer|interleaved] [--restart]

Per size: a fresh etcd + kube-apiserver (tests/support/k8s_env.py) with an audit policy that logs
every request of the operator's ServiceAccount at Metadata level, our CRDs, one namespace
per customer (labelled for tenant binding, which stays on), and `alertplane operator` as
a subprocess with exactly the RBAC of docs/operator.md and no reload URLs (`--sink files` into a
temp dir isolates the operator; `--sink configmap` adds its ConfigMap writes). Then
N CustomerAlerts over N/per-customer customers are created as fast as the API server
takes them: `--clients` threads, each with one keep-alive connection, POST them as the
admin, each customer's alerts together (or `--order interleaved`: round robin).

Measured:
- created: time until the last POST answered;
- all Synced: time from the first POST until every object shows status.phase Synced
  with observedGeneration == generation (a paginated LIST, limit=500, every --poll s;
  such a LIST of 10,000 objects costs the API server about a second of CPU, hence the
  default of N/2000 s), and the last write of the operator in the audit log;
- API requests of the operator per object, from the API server's audit log (independent
  of the operator), split by verb/resource: the start-up ones (before the first POST) and
  those from the first POST until it has been quiet for --quiet s;
- operator RSS (VmRSS) at the end and its peak (VmHWM), its CPU seconds, and those of
  kube-apiserver and etcd until all were Synced;
- with --restart, a second operator process over the same objects: time to ready (the
  first full sync), its requests and RSS.
The machine has 2 cores shared with the API server, etcd and this script: each row
carries the load averages before → after. Results go into benchmarks/README.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from alertplane.crds import crd_manifests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.k8s_env import KubeEnv  # noqa: E402
from tests.support.operator_env import OperatorProcess  # noqa: E402
from workload import API, alert_manifest  # noqa: E402

SINK_NS = "monitoring"
ACCOUNT = "alertplane"
USER = f"system:serviceaccount:{SINK_NS}:{ACCOUNT}"


def audit_policy(path: Path) -> Path:
    # JSON is valid YAML. Only the operator's requests, once each (at ResponseComplete, or
    # ResponseStarted for watches that are still open at the end).
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "users": [USER]}, {"level": "None"}],
    }
    path.write_text(json.dumps(policy))
    return path


def rbac(sink: str) -> list[dict[str, Any]]:
    """docs/operator.md's RBAC for a cluster-wide operator with tenant binding, nothing more."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": ["alertplane.io"], "resources": ["customeralerts", "customerreceivers"],
         "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["alertplane.io"],
         "resources": ["customeralerts/status", "customerreceivers/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    ]  # fmt: skip
    rbac_v1 = "rbac.authorization.k8s.io/v1"
    subjects = [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": SINK_NS}]
    docs: list[dict[str, Any]] = []
    for kind, meta, kind_rules in (
        ("ClusterRole", {"name": ACCOUNT}, rules),
        ("Role", {"name": ACCOUNT, "namespace": SINK_NS},
         [{"apiGroups": [""], "resources": ["configmaps"],
           "verbs": ["list", "create", "patch", "delete"]}] if sink == "configmap" else []),
    ):  # fmt: skip
        if not kind_rules:
            continue
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": ACCOUNT}
        docs += [
            {"apiVersion": rbac_v1, "kind": kind, "metadata": meta, "rules": kind_rules},
            {"apiVersion": rbac_v1, "kind": f"{kind}Binding", "metadata": meta, "roleRef": ref,
             "subjects": subjects},
        ]  # fmt: skip
    return docs


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def proc_status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024  # kB → MB
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class Api:
    def __init__(self, env: KubeEnv) -> None:
        self.env = env

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.env.server,
            verify=str(self.env.ca_file),
            headers={"Authorization": f"Bearer {self.env.token}"},
            timeout=120,
        )


def create_all(
    api: Api, objects: list[dict[str, Any]], clients: int, failed: list[BaseException]
) -> None:
    local = threading.local()

    def post(obj: dict[str, Any]) -> None:
        if not hasattr(local, "http"):
            local.http = api.client()
        ns = obj["metadata"]["namespace"]
        for _ in range(10):
            resp = local.http.post(f"/apis/{API}/namespaces/{ns}/customeralerts", json=obj)
            if resp.status_code not in (429, 500, 503, 504):
                break
            time.sleep(0.5)
        if resp.status_code != 201:
            raise RuntimeError(f"create {obj['metadata']['name']}: {resp.status_code} {resp.text}")

    try:
        with ThreadPoolExecutor(clients) as pool:
            for _ in pool.map(post, objects):
                pass
    except BaseException as exc:
        failed.append(exc)
        raise


def count_synced(http: httpx.Client) -> tuple[int, int]:
    """(objects, of which Synced at their current generation) by a paginated LIST."""
    total = synced = 0
    params = {"limit": "500"}
    while True:
        resp = http.get(f"/apis/{API}/customeralerts", params=params)
        resp.raise_for_status()
        page = resp.json()
        for item in page.get("items") or []:
            total += 1
            st = item.get("status") or {}
            if (
                st.get("phase") == "Synced"
                and st.get("observedGeneration") == item["metadata"]["generation"]
            ):
                synced += 1
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return total, synced
        params["continue"] = token


def audit_events(path: Path) -> list[dict[str, Any]]:
    """One record per request of the operator (deduplicated by auditID)."""
    seen: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return []
    with path.open() as f:
        for line in f:
            ev = json.loads(line)
            if (ev.get("user") or {}).get("username") != USER:
                continue
            seen.setdefault(ev["auditID"], ev)
    return list(seen.values())


def _ts(ev: dict[str, Any]) -> float:
    stamp = ev["requestReceivedTimestamp"].replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def _key(ev: dict[str, Any]) -> str:
    ref = ev.get("objectRef") or {}
    res = ref.get("resource", ev.get("requestURI", "?"))
    if ref.get("subresource"):
        res += "/" + ref["subresource"]
    return f"{ev['verb']} {res}"


def wait_quiet(audit: Path, quiet: float, timeout: float = 600) -> list[dict[str, Any]]:
    """Audit events once the operator made no request for `quiet` seconds (watches aside)."""
    deadline = time.monotonic() + timeout
    while True:
        events = audit_events(audit)
        last = max((_ts(e) for e in events if e["verb"] != "watch"), default=0.0)
        if time.time() - last >= quiet or time.monotonic() > deadline:
            return events
        time.sleep(1.0)


def run_size(n: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    per_customer, sink, quiet = args.per_customer, args.sink, args.quiet
    poll = args.poll or max(1.0, n / 2000)  # each LIST costs the API server CPU
    customers = [f"c{c:05d}" for c in range((n + per_customer - 1) // per_customer)]
    objects = [
        alert_manifest(customers[i // per_customer], i % per_customer, i % per_customer + 1)
        for i in range(n)
    ]
    if (
        args.order == "interleaved"
    ):  # round robin over customers: every customer is touched all along
        objects.sort(
            key=lambda o: (int(o["metadata"]["name"].rsplit("-a", 1)[1]), o["metadata"]["name"])
        )
    audit = workdir / "audit.log"
    server_args = [
        f"--audit-policy-file={audit_policy(workdir / 'audit-policy.yaml')}",
        f"--audit-log-path={audit}",
        "--audit-log-format=json",
        "--audit-log-maxsize=0",
    ]
    res: dict[str, Any] = {"n": n, "customers": len(customers), "sink": sink}
    with KubeEnv(apiserver_args=server_args) as env:
        api = Api(env)
        env.apply(*crd_manifests())
        # Not `kubectl wait`: it fails at once on a CRD with no conditions yet (KubeEnv's doc).
        env.wait_established("customeralerts.alertplane.io", "customerreceivers.alertplane.io")
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": cid, "labels": {"alertplane.io/customer": cid}}}
            for cid in customers
        ]  # fmt: skip
        for i in range(0, len(namespaces), 500):
            env.apply(*namespaces[i : i + 500])
        token = env.create_token(SINK_NS, ACCOUNT, duration="6h")
        env.apply(*rbac(sink))
        kubeconfig = env.write_kubeconfig(token, user=ACCOUNT)
        out = workdir / "out"
        sink_args = [f"--sink={sink}", f"--sink-namespace={SINK_NS}"]
        if sink == "files":
            sink_args.append(f"--out={out}")
        op = OperatorProcess(env, sink_args, workdir / "operator.log", kubeconfig)
        op.start(timeout=120)
        assert op.proc is not None
        pid = op.proc.pid
        try:
            with api.client() as http:
                deadline = time.monotonic() + 120
                while count_synced(http)[0] != 0 and time.monotonic() < deadline:
                    time.sleep(0.5)
                time.sleep(1.0)  # the start-up requests are all in before the first POST
                servers = {name: env._procs[name][0].pid for name in ("kube-apiserver", "etcd")}
                cpu0 = {name: proc_status(pid)["cpu_s"] for name, pid in servers.items()}
                t0_wall, t0 = time.time(), time.monotonic()
                res["load_before"] = load()
                failed: list[BaseException] = []
                creator = threading.Thread(
                    target=lambda: create_all(api, objects, args.clients, failed), daemon=True
                )
                creator.start()
                created_at: float | None = None
                polls: list[float] = []
                progress_at = time.monotonic()
                while True:
                    if created_at is None and not creator.is_alive():
                        created_at = time.monotonic() - t0
                    polled = time.monotonic()
                    total, synced = count_synced(http)
                    polls.append(time.monotonic() - polled)
                    if total == n and synced == n:
                        res["synced_s"] = time.monotonic() - t0
                        break
                    if failed:
                        raise RuntimeError("creating the objects failed") from failed[0]
                    if op.proc.poll() is not None:
                        raise RuntimeError(f"operator exited:\n{op.tail()}")
                    if time.monotonic() - progress_at >= 10:
                        progress_at = time.monotonic()
                        print(
                            f"  [{n}] t={progress_at - t0:.0f}s created {total} synced {synced}"
                            f" rss {proc_status(pid)['VmRSS']:.0f} MB load {load()}",
                            file=sys.stderr,
                            flush=True,
                        )
                    time.sleep(poll)
                creator.join()
                res["server_cpu_s"] = {
                    n: proc_status(p)["cpu_s"] - cpu0[n] for n, p in servers.items()
                }
                res["created_s"] = created_at if created_at is not None else res["synced_s"]
                res["load_after"] = load()
                res["polls"] = (len(polls), sum(polls) / len(polls))
            events = wait_quiet(audit, quiet)
            res |= proc_status(pid)
            if args.restart:  # a second operator process over the same N objects: start-up cost
                op.stop()
                t1_wall, t1 = time.time(), time.monotonic()
                op.start(timeout=1800)
                assert op.proc is not None
                res["restart_ready_s"] = time.monotonic() - t1
                events_r = wait_quiet(audit, quiet)
                after = [e for e in events_r if _ts(e) >= t1_wall]
                res["restart"] = Counter(_key(e) for e in after)
                res["restart_last_write_s"] = max(
                    (_ts(e) - t1_wall for e in after if e["verb"] in ("patch", "create")),
                    default=0.0,
                )
                res["restart_mem"] = proc_status(op.proc.pid)
        finally:
            op.stop()
    before = [e for e in events if _ts(e) < t0_wall]
    during = [e for e in events if _ts(e) >= t0_wall]
    writes = [_ts(e) for e in during if e["verb"] in ("patch", "create", "update", "delete")]
    res["last_write_s"] = (max(writes) - t0_wall) if writes else 0.0
    res["startup"] = Counter(_key(e) for e in before)
    res["burst"] = Counter(_key(e) for e in during)
    res["errors"] = Counter(
        f"{_key(e)} {e.get('responseStatus', {}).get('code')}"
        for e in during
        if int((e.get("responseStatus") or {}).get("code") or 0) >= 400
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--per-customer", type=int, default=20)
    ap.add_argument("--sink", choices=("files", "configmap"), default="files")
    ap.add_argument("--clients", type=int, default=8, help="parallel creating connections")
    ap.add_argument(
        "--order",
        choices=("customer", "interleaved"),
        default="customer",
        help="create each customer's alerts together, or round robin over customers",
    )
    ap.add_argument(
        "--poll", type=float, help="seconds between status LISTs (default: N/2000, at least 1)"
    )
    ap.add_argument("--quiet", type=float, default=5.0, help="seconds without operator requests")
    ap.add_argument(
        "--restart", action="store_true", help="then restart it over the N objects: the same"
    )
    args = ap.parse_args()
    print(
        f"# {platform.node()} {os.cpu_count()} cpu, Python {platform.python_version()},"
        f" {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; sink {args.sink},"
        f" {args.clients} creating clients, {args.order} order;"
        " load = 1/5/15-min averages before → after"
    )
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
            r = run_size(size, args, Path(tmp))
        rows.append(r)
        burst = sum(r["burst"].values())
        print(f"\n## {size} CustomerAlerts, {r['customers']} customers")
        print(f"created in {r['created_s']:.1f} s, all Synced after {r['synced_s']:.1f} s,"
              f" last operator write at {r['last_write_s']:.1f} s")  # fmt: skip
        print(f"operator: RSS {r['VmRSS']:.0f} MB, peak {r['VmHWM']:.0f} MB,"
              f" CPU {r['cpu_s']:.1f} s; load {r['load_before']} → {r['load_after']}")  # fmt: skip
        print(f"status LISTs: {r['polls'][0]}, {r['polls'][1]:.2f} s each on average")
        print("CPU until all Synced: " + ", ".join(
            f"{name} {cpu:.1f} s" for name, cpu in r["server_cpu_s"].items()))  # fmt: skip
        print(f"operator requests: {sum(r['startup'].values())} at start-up, {burst} during"
              f" the burst = {burst / size:.2f} per object")  # fmt: skip
        for key, count in sorted(r["burst"].items(), key=lambda kv: -kv[1]):
            print(f"  {key:45} {count:7d}  {count / size:6.3f}/object")
        for key, count in sorted(r["startup"].items()):
            print(f"  (start-up) {key:34} {count:7d}")
        for key, count in sorted(r["errors"].items()):
            print(f"  (error) {key:37} {count:7d}")
        if "restart" in r:
            m = r["restart_mem"]
            print(f"restart: ready (first full sync done) after {r['restart_ready_s']:.1f} s,"
                  f" last write at {r['restart_last_write_s']:.1f} s;"
                  f" RSS {m['VmRSS']:.0f} MB, peak {m['VmHWM']:.0f} MB, CPU {m['cpu_s']:.1f} s;"
                  f" {sum(r['restart'].values())} requests")  # fmt: skip
            for key, count in sorted(r["restart"].items(), key=lambda kv: -kv[1]):
                if not key.startswith("get /api"):
                    print(f"  (restart) {key:35} {count:7d}  {count / size:6.3f}/object")
    print("\n| objects | customers | created | all Synced | requests/object | RSS | peak RSS"
          " | CPU | load |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        per = sum(r["burst"].values()) / r["n"]
        print(
            f"| {r['n']:,} | {r['customers']:,} | {r['created_s']:.1f} s | {r['synced_s']:.1f} s"
            f" | {per:.2f} | {r['VmRSS']:.0f} MB | {r['VmHWM']:.0f} MB | {r['cpu_s']:.0f} s"
            f" | {r['load_before']} → {r['load_after']} |"
        )


if __name__ == "__main__":
    main()

"""alertplane's hand-written Kubernetes client against lightkube and the official client.

    python3 benchmarks/bench_kube_client.py [--objects 10000] [--libs DIR] [--rounds 2]

One real kube-apiserver (tests/support/k8s_env.py) with our CRDs and --objects CustomerAlerts in
one namespace. Then, per client, a fresh subprocess that first imports the operator
(`alertplane.k8s.operator`, which brings kopf, httpx and the hand-written client), then
the client library, and measures:
- import: wall time and RSS (VmRSS) added by importing the library on top of the
  operator — what every operator process would pay at idle;
- latency (p50/p95 ms, sequential, one keep-alive connection): GET of one object, LIST
  of one 500-object page, server-side apply and merge patch of one object's labels;
- a paged LIST of all objects consumed page by page (as the operator's initial list
  does: RSS peak VmHWM) and then with every object kept as the library returns it
  (RSS added: what caching its typed objects instead of our compact state would cost).
The libraries need not be installed in the environment: `pip install --target DIR
lightkube kubernetes` and pass `--libs DIR` (appended to sys.path, so the environment's
own packages win). The machine's load is printed with each run: latencies on the shared
2-core machine are noisy, compare rows of one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NS = "bench"
GROUP, VERSION, PLURAL = "alertplane.io", "v1alpha1", "customeralerts"
CLIENTS = ("alertplane", "lightkube", "kubernetes")


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def alert(i: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CustomerAlert",
        "metadata": {"name": f"acme-alert-{i}", "namespace": NS},
        "spec": {
            "customerId": "acme",
            "alertName": f"Alert{i}",
            "expr": f'rate(http_requests_total{{job="api-{i % 50}",code=~"5.."}}[5m]) > 0.05',
            "for": "5m",
            "severity": "warning",
            "category": "application",
            "annotations": {"summary": f"alert {i} fires", "description": "x" * 80},
        },
    }


# -- the clients under test: (get, list page, apply, merge patch, paged list) ----------------


class Ops:
    def get(self, name: str) -> Any: ...
    def page(self) -> Any: ...
    def apply(self, name: str, value: str) -> Any: ...
    def merge(self, name: str, value: str) -> Any: ...
    def every(self) -> Iterator[Any]: ...


def alertplane_ops(kubeconfig: str) -> Ops:
    from alertplane.kube.client import KubeClient, login
    from alertplane.kube.paths import api_path

    client = KubeClient(lambda: login(kubeconfig))
    coll = api_path(f"{GROUP}/{VERSION}", PLURAL, NS)

    class Mine(Ops):
        def get(self, name: str) -> Any:
            return client.get(f"{coll}/{name}")

        def page(self) -> Any:
            return client.request("GET", coll, params={"limit": "500"})

        def apply(self, name: str, value: str) -> Any:
            body = {**alert(0), "metadata": {"name": name, "namespace": NS, "labels": {"b": value}}}
            body["spec"] = {**body["spec"], "alertName": "Applied"}
            return client.apply(f"{coll}/{name}", body)

        def merge(self, name: str, value: str) -> Any:
            return client.merge_patch(f"{coll}/{name}", {"metadata": {"labels": {"m": value}}})

        def every(self) -> Iterator[Any]:
            return client.list(coll)

    return Mine()


def lightkube_ops(kubeconfig: str) -> Ops:
    from lightkube import Client, KubeConfig
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.types import PatchType

    ca = create_namespaced_resource(GROUP, VERSION, "CustomerAlert", PLURAL)
    client = Client(config=KubeConfig.from_file(kubeconfig), field_manager="alertplane")

    class Light(Ops):
        def get(self, name: str) -> Any:
            return client.get(ca, name, namespace=NS)

        def page(self) -> Any:
            # lightkube's list is lazy per chunk: the first 500 are exactly one request.
            return list(itertools.islice(client.list(ca, namespace=NS, chunk_size=500), 500))

        def apply(self, name: str, value: str) -> Any:
            body = {**alert(0), "metadata": {"name": name, "namespace": NS, "labels": {"b": value}}}
            body["spec"] = {**body["spec"], "alertName": "Applied"}
            return client.apply(ca.from_dict(body), force=True)  # type: ignore[attr-defined]

        def merge(self, name: str, value: str) -> Any:
            patch = {"metadata": {"labels": {"m": value}}}
            return client.patch(ca, name, patch, namespace=NS, patch_type=PatchType.MERGE)

        def every(self) -> Iterator[Any]:
            return iter(client.list(ca, namespace=NS, chunk_size=500))

    return Light()


def kubernetes_ops(kubeconfig: str) -> Ops:
    from kubernetes import client as k8s
    from kubernetes import config

    config.load_kube_config(kubeconfig)
    api = k8s.CustomObjectsApi()
    args = (GROUP, VERSION, NS, PLURAL)

    class Official(Ops):
        def get(self, name: str) -> Any:
            return api.get_namespaced_custom_object(*args, name)

        def page(self) -> Any:
            return api.list_namespaced_custom_object(*args, limit=500)

        def apply(self, name: str, value: str) -> Any:
            body = {**alert(0), "metadata": {"name": name, "namespace": NS, "labels": {"b": value}}}
            body["spec"] = {**body["spec"], "alertName": "Applied"}
            return api.patch_namespaced_custom_object(
                *args,
                name,
                body,
                field_manager="alertplane",
                force=True,
                _content_type="application/apply-patch+yaml",
            )

        def merge(self, name: str, value: str) -> Any:
            return api.patch_namespaced_custom_object(
                *args,
                name,
                {"metadata": {"labels": {"m": value}}},
                _content_type="application/merge-patch+json",
            )

        def every(self) -> Iterator[Any]:
            token = None
            while True:
                page = api.list_namespaced_custom_object(*args, limit=500, _continue=token)
                yield from page["items"]
                token = page["metadata"].get("continue")
                if not token:
                    return

    return Official()


def timed(op: Callable[[int], Any], n: int) -> dict[str, float]:
    op(0)  # warm: connection, discovery, caches
    took = []
    for i in range(n):
        t = time.perf_counter()
        op(i)
        took.append((time.perf_counter() - t) * 1000)
    took.sort()
    return {"p50": statistics.median(took), "p95": took[int(len(took) * 0.95) - 1]}


def child(name: str, kubeconfig: str, libs: str | None, n: int) -> dict[str, Any]:
    import alertplane.k8s.operator  # noqa: F401  the operator's own imports first

    if libs:  # after the operator's imports: they must not pick a library up from there
        sys.path.append(libs)

    base = rss_kb()
    t = time.perf_counter()
    if name == "lightkube":
        import lightkube
        import lightkube.generic_resource  # noqa: F401
    elif name == "kubernetes":
        import kubernetes.client
        import kubernetes.config  # noqa: F401
    out: dict[str, Any] = {
        "client": name,
        "import_s": time.perf_counter() - t,
        "import_mb": (rss_kb() - base) / 1024,
        "operator_imports_mb": base / 1024,
    }
    ops = {"alertplane": alertplane_ops, "lightkube": lightkube_ops, "kubernetes": kubernetes_ops}
    o = ops[name](kubeconfig)
    out["idle_mb"] = rss_kb() / 1024
    out["get"] = timed(lambda i: o.get(f"acme-alert-{i % 1000}"), n)
    out["list500"] = timed(lambda i: o.page(), max(n // 10, 5))
    out["apply"] = timed(lambda i: o.apply("acme-applied", str(i)), n)
    out["merge"] = timed(lambda i: o.merge("acme-alert-1", str(i)), n)
    before = rss_kb()
    t = time.perf_counter()
    count = sum(1 for _ in o.every())
    out["list_all_s"] = time.perf_counter() - t
    out["list_all_peak_mb"] = rss_kb("VmHWM") / 1024
    kept = list(o.every())
    out["objects"] = count
    out["kept_mb"] = (rss_kb() - before) / 1024
    del kept
    return out


def populate(env: Any, objects: int) -> str:
    from alertplane.crds import crd_manifests
    from alertplane.kube.client import KubeClient, login
    from alertplane.kube.paths import api_path

    env.apply(*crd_manifests())
    env.wait_established(*(m["metadata"]["name"] for m in crd_manifests()))
    env.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kubeconfig = str(env.kubeconfig)
    client = KubeClient(lambda: login(kubeconfig))
    coll = api_path(f"{GROUP}/{VERSION}", PLURAL, NS)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.create(coll, alert(i)), range(objects)))
    client.close()
    return kubeconfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--libs")
    parser.add_argument("--child")
    parser.add_argument("--kubeconfig")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.kubeconfig, args.libs, args.requests)))
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.k8s_env import KubeEnv

    with KubeEnv() as env:
        t = time.perf_counter()
        kubeconfig = populate(env, args.objects)
        print(f"# {args.objects} objects created in {time.perf_counter() - t:.0f}s", flush=True)
        for r in range(args.rounds):
            for name in CLIENTS:
                cmd = [sys.executable, __file__, "--child", name, "--kubeconfig", kubeconfig]
                cmd += ["--requests", str(args.requests)]
                if args.libs:
                    cmd += ["--libs", args.libs]
                load = os.getloadavg()[0]
                out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(f"# {name}: failed\n{out.stderr[-3000:]}", flush=True)
                    continue
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["round"], row["load"] = r, round(load, 1)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

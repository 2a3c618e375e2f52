"""Operator memory for bench_ab.py: `alertplane operator` started over N CustomerAlerts.

One etcd + kube-apiserver for the whole comparison (the test suite's KubeEnv, from the
checkout bench_ab.py runs in), N CustomerAlerts over N/20 customer namespaces created once,
and one warm-up operator run until every object is Synced (it adds the finalizers and
writes the statuses). Then each run starts one revision's `alertplane operator` (files
sink, cluster-wide, tenant binding on) over the same objects and measures its time to
ready (the first full sync), its RSS and peak RSS after that sync, and its CPU seconds.
That is benchmarks/README.md's "Restart over the same objects" (Operator); being the same
cluster and objects for both revisions, it compares their memory under identical input.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from ab_procs import Rev, free_port, ok, proc_status, spawn, stop, tail, wait_until
from workload import API, alert_manifest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.k8s_env import KubeEnv  # noqa: E402  (this checkout's, for both revisions)


class Operator:
    def __init__(self, workdir: Path, objects: int, settle: float) -> None:
        self.workdir, self.n, self.settle = workdir, objects, settle
        self.env = KubeEnv()
        self.started = False

    def setup(self, rev: Rev, clients: int = 8) -> dict[str, float]:
        """Start the cluster, install `rev`'s CRDs, create the objects, and run `rev`'s
        operator until all are Synced (not measured against the other revision)."""
        self.env.start()
        self.started = True
        crds = subprocess.run(rev.cli("crds"), env=rev.env, capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
        self.env.kubectl("apply", "-f", "-", input=crds)
        names = ("customeralerts.alertplane.io", "customerreceivers.alertplane.io")
        if hasattr(self.env, "wait_established"):
            self.env.wait_established(*names)
        else:
            self.env.kubectl("wait", "--for=condition=Established", "--timeout=120s",
                             *(f"crd/{n}" for n in names))  # fmt: skip
        customers = [f"c{c:05d}" for c in range((self.n + 19) // 20)]
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": cid, "labels": {"alertplane.io/customer": cid}}}
            for cid in customers
        ]  # fmt: skip
        for i in range(0, len(namespaces), 500):
            self.env.apply(*namespaces[i : i + 500])
        objects = [alert_manifest(customers[i // 20], i % 20, i % 20 + 1) for i in range(self.n)]
        t0 = time.monotonic()
        self.create(objects, clients)
        created = time.monotonic() - t0
        proc, _ = self.start(rev, "warm-up")
        try:
            with self.client() as http:
                wait_until(
                    lambda: synced(http) == self.n, 3600, "all Synced", max(1, self.n / 2000)
                )
        finally:
            stop(proc)
        return {"created_s": created, "synced_s": time.monotonic() - t0}

    def close(self) -> None:
        if self.started:
            self.env.stop()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.env.server, verify=str(self.env.ca_file), timeout=120,
                            headers={"Authorization": f"Bearer {self.env.token}"})  # fmt: skip

    def create(self, objects: list[dict[str, Any]], clients: int) -> None:
        local = threading.local()

        def post(obj: dict[str, Any]) -> None:
            if not hasattr(local, "http"):
                local.http = self.client()
            ns = obj["metadata"]["namespace"]
            for _ in range(10):
                resp = local.http.post(f"/apis/{API}/namespaces/{ns}/customeralerts", json=obj)
                if resp.status_code not in (429, 500, 503, 504):
                    break
                time.sleep(0.5)
            if resp.status_code != 201:
                raise RuntimeError(f"create {obj['metadata']['name']}: {resp.status_code}")

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, objects))

    def start(self, rev: Rev, label: str) -> tuple[subprocess.Popen[bytes], float]:
        port = free_port()
        out = Path(tempfile.mkdtemp(dir=self.workdir, prefix=f"out-{label}-"))
        log = out / "operator.log"
        proc = spawn(rev.cli("operator", f"--kubeconfig={self.env.kubeconfig}",
                             f"--metrics-port={port}", "--sink=files", f"--out={out}"),
                     rev.env, log)  # fmt: skip
        try:
            ready = wait_until(lambda: ok(f"http://127.0.0.1:{port}/readyz"), 1800, "ready")
        except TimeoutError:
            stop(proc)
            raise RuntimeError(tail(log)) from None
        return proc, ready

    def run(self, rev: Rev) -> dict[str, float | str]:
        proc, ready = self.start(rev, rev.name)
        try:
            time.sleep(self.settle)  # let the first sync's follow-up work finish
            st = proc_status(proc.pid)
        finally:
            stop(proc)
        return {
            "operator ready s": ready,
            "operator RSS MB": st["VmRSS"],
            "operator peak RSS MB": st["VmHWM"],
            "operator CPU s": st["cpu_s"],
        }


def synced(http: httpx.Client) -> int:
    """How many CustomerAlerts are Synced at their current generation (paginated LIST)."""
    count, params = 0, {"limit": "500"}
    while True:
        resp = http.get(f"/apis/{API}/customeralerts", params=params)
        resp.raise_for_status()
        page = resp.json()
        for item in page.get("items") or []:
            st = item.get("status") or {}
            gen = item["metadata"]["generation"]
            count += st.get("phase") == "Synced" and st.get("observedGeneration") == gen
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return count
        params["continue"] = token

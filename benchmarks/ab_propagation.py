"""Propagation for bench_ab.py: `alertplane serve` against a real Prometheus and Alertmanager.

Per run: a fresh SQLite store seeded with `alertplane apply` (customers × alerts), a fresh
Prometheus and Alertmanager, and `alertplane serve` with a token. Measured: serve's time
to ready (its first full sync), its RSS then and at the end, its CPU; then `changes` times
an alert's threshold is changed through the REST API (`PUT /customers/{id}/alerts/{name}`)
and the time until Prometheus' `/api/v1/rules` shows it (wall clock: coalescing window,
write, promtool, reload), and serve's CPU per change (load-independent, unlike the wall).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from ab_procs import (
    Rev,
    binary,
    free_port,
    http_json,
    ok,
    proc_status,
    run_measured,
    spawn,
    stop,
    tail,
    wait_until,
)
from workload import alert_manifest

MINIMAL_AM = "route:\n  receiver: default\nreceivers:\n- name: default\n"


class Propagation:
    def __init__(self, workdir: Path, customers: int, alerts: int, changes: int) -> None:
        self.workdir, self.changes = workdir, changes
        self.alerts = alerts
        self.ids = [f"c{c:04d}" for c in range(customers)]
        docs = [alert_manifest(cid, a, 1) for cid in self.ids for a in range(alerts)]
        self.seed = workdir / "seed.yaml"
        # JSON documents are YAML; one per line keeps the file cheap to write.
        self.seed.write_text("".join(f"---\n{json.dumps(d)}\n" for d in docs), encoding="utf-8")

    def run(self, rev: Rev) -> dict[str, float | str]:
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            return self._run(rev, Path(tmp))

    def _run(self, rev: Rev, tmp: Path) -> dict[str, float | str]:
        db = f"sqlite:///{tmp / 'a.db'}"
        res: dict[str, float | str] = {}
        res["apply CPU s"] = run_measured(rev.cli("apply", "-f", str(self.seed), "--db", db),
                                          rev.env).cpu_s  # fmt: skip
        out = tmp / "out"
        (out / "rules").mkdir(parents=True)
        (out / "alertmanager.yml").write_text(MINIMAL_AM)
        am_port, prom_port, port = free_port(), free_port(), free_port()
        procs = [
            spawn(alertmanager(out, tmp, am_port), None, tmp / "am.log"),
            spawn(prometheus(out, tmp, prom_port, am_port), None, tmp / "prom.log"),
        ]
        prom = f"http://127.0.0.1:{prom_port}"
        token = "ap_" + secrets.token_urlsafe(32)
        (tmp / "tokens.csv").write_text(
            f"bench,admin,{hashlib.sha256(token.encode()).hexdigest()}\n"
        )
        try:
            wait_until(lambda: ok(f"{prom}/-/ready"), 120, "Prometheus ready")
            wait_until(lambda: ok(f"http://127.0.0.1:{am_port}/-/ready"), 120, "Alertmanager")
            serve = spawn(
                rev.cli("serve", "--db", db, "--out", str(out), "--port", str(port),
                        "--prometheus-url", prom,
                        "--alertmanager-url", f"http://127.0.0.1:{am_port}",
                        "--tokens", str(tmp / "tokens.csv")),
                rev.env, tmp / "serve.log",
            )  # fmt: skip
            procs.append(serve)
            url = f"http://127.0.0.1:{port}"
            try:
                res["serve ready s"] = wait_until(lambda: ok(f"{url}/readyz"), 900, "serve ready")
            except TimeoutError:
                raise RuntimeError(tail(tmp / "serve.log")) from None
            at_ready = proc_status(serve.pid)
            res["serve CPU to ready s"] = at_ready["cpu_s"]
            res["serve RSS at ready MB"] = at_ready["VmRSS"]
            total = len(self.ids) * self.alerts
            wait_until(lambda: len(rules(prom)) == total, 300, "all rules in Prometheus", 0.5)
            res |= self.changes_through_api(url, token, prom, serve.pid)
            end = proc_status(serve.pid)
            res["serve peak RSS MB"] = end["VmHWM"]
        finally:
            for proc in reversed(procs):
                stop(proc)
        return res

    def changes_through_api(self, url: str, token: str, prom: str, pid: int) -> dict[str, float]:
        cpu0 = proc_status(pid)["cpu_s"]
        took = []
        for i in range(self.changes):
            cid, a = self.ids[(i * 7) % len(self.ids)], i % self.alerts
            doc = alert_manifest(cid, a, 100 + i)
            spec = {k: v for k, v in doc["spec"].items() if k != "customerId"}
            group, name = f"{cid}-{spec['category']}", spec["alertName"]
            t0 = time.monotonic()
            http_json(f"{url}/customers/{cid}/alerts/{name}", "PUT", spec, token)
            wait_until(partial(is_live, prom, group, name, str(100 + i)), 120,
                       f"{group}/{name} live", 0.05)  # fmt: skip
            took.append(time.monotonic() - t0)
        cpu = proc_status(pid)["cpu_s"] - cpu0
        ordered = sorted(took)
        return {
            "prop p50 s": statistics.median(took),
            "prop max s": ordered[-1],
            "serve CPU per change ms": cpu / self.changes * 1000,
        }


def rules(prom: str) -> list[dict[str, Any]]:
    groups = http_json(f"{prom}/api/v1/rules")["data"]["groups"]
    return [{**r, "group": g["name"]} for g in groups for r in g["rules"]]


def is_live(prom: str, group: str, name: str, threshold: str) -> bool:
    # Prometheus re-prints the query from its AST; the threshold after the last ">" is what
    # each change alters.
    for rule in rules(prom):
        if rule["group"] == group and rule["name"] == name:
            return str(rule["query"]).rsplit(">", 1)[1].strip() == threshold
    return False


def prometheus(out: Path, tmp: Path, port: int, am_port: int) -> list[str]:
    config: dict[str, Any] = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [f"{out}/rules/*.yml"],
    }
    targets = [f"127.0.0.1:{am_port}"]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
    (tmp / "prometheus.yml").write_text(json.dumps(config))
    return [binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
            f"--storage.tsdb.path={tmp / 'prom-data'}", "--log.level=warn"]  # fmt: skip


def alertmanager(out: Path, tmp: Path, port: int) -> list[str]:
    return [binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={out / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            "--log.level=warn"]  # fmt: skip

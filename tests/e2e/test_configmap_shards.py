"""Sharded rule evaluation with the ConfigMap sink (issue 12 item 1): a real API server,
alertplane's operator with the chart's flags and RBAC, and one real Prometheus (Debian
2.42) per shard.

Each shard's Prometheus reads a directory that `Sidecar` fills from the ConfigMaps labelled
`alertplane.io/shard=<shard>` (what a ConfigMap-collecting sidecar such as k8s-sidecar does
in a pod: key = file name, and a reload after it changed files); the operator reloads and
asks only the changed customer's shard (`prometheus.shards[].url`). Proven:

- every customer's rules are loaded on exactly its shard (`/api/v1/rules` of each server),
  Synced names its ConfigMap and shard; one customer's change reloads its shard only;
- a shard added (operator restarted with the new platform config) moves exactly the
  customers rendezvous hashing moves, polling every server's `/api/v1/rules` throughout:
  no moved customer is ever loaded nowhere;
- with `--db` (a real PostgreSQL) every finished move is one `move` audit row of kind
  Placement (from, to, the operator replica as actor), shown by `alertplane history`, and a
  restarted operator adds none (nothing is left to move).
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from alertplane.cli import main
from alertplane.kube.paths import api_path
from alertplane.render.placement import moves, place
from alertplane.render.platform import PrometheusSettings, Shard
from tests.support.factories import alert
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    chart_operator,
    condition,
    running,
    started_cluster,
    wait_for,
)
from tests.support.processes import Postgres, Prometheus

SINK_NS = "monitoring"
CUSTOMERS = [f"cm{i}" for i in range(8)]
SHARD = "alertplane.io/shard"
ALERT = "CustomerAlert"


class Sidecar:
    """Copies the ConfigMaps of one shard label into a directory (key → file), removes
    the files of ConfigMaps that went away, and reloads its Prometheus after a change."""

    def __init__(self, cluster: Cluster, shard: str, out: Path, reload_url: str) -> None:
        self.cluster, self.shard, self.out, self.url = cluster, shard, out, reload_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sync(self) -> None:
        path = api_path("v1", "configmaps", SINK_NS)
        wanted: dict[str, str] = {}
        for cm in self.cluster.api.list(path, f"{SHARD}={self.shard}"):
            wanted.update(cm.get("data") or {})
        changed = False
        for file in self.out.glob("*.yml"):
            if file.name not in wanted:
                file.unlink()
                changed = True
        for key, text in wanted.items():
            file = self.out / key
            if not file.exists() or file.read_text(encoding="utf-8") != text:
                file.write_text(text, encoding="utf-8")
                changed = True
        if changed:
            req = urllib.request.Request(f"{self.url}/-/reload", method="POST", data=b"")
            urllib.request.urlopen(req, timeout=120).close()

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            try:
                self.sync()
            except OSError:
                continue  # the next round tries again, as a sidecar does

    def __enter__(self) -> Sidecar:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(130)


def settings(shards: list[str]) -> PrometheusSettings:
    return PrometheusSettings(shards=[Shard(name=s) for s in shards])


def loaded(servers: dict[str, Prometheus]) -> dict[str, set[str]]:
    """customer → the shards whose Prometheus has its rules loaded."""
    out: dict[str, set[str]] = {c: set() for c in CUSTOMERS}
    for shard, prom in servers.items():
        for rule in prom.rules():
            cid = rule["labels"].get("customer_id")
            if cid in out:
                out[cid].add(shard)
    return out


def reloads(prom: Prometheus) -> float:
    """Successful reloads so far (Prometheus' own counter of config reloads)."""
    with urllib.request.urlopen(f"{prom.url}/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("prometheus_config_last_reload_success_timestamp_seconds "):
                return float(line.split()[1])
    raise AssertionError("no prometheus_config_last_reload_success_timestamp_seconds")


@contextmanager
def operator_for(
    cluster: Cluster, servers: dict[str, Prometheus], tmp: Path, phase: str, db: str
) -> Iterator[OperatorProcess]:
    shards = [{"name": s, "url": p.url} for s, p in servers.items()]
    values: dict[str, Any] = {
        "sink": {"type": "configmap", "namespace": SINK_NS},
        "watchNamespaces": CUSTOMERS,
        "platform": {"prometheus": {"shards": shards}},
    }
    chart = chart_operator(cluster.env, values, "cmshards")
    (cm,) = [d for d in chart.docs if d["kind"] == "ConfigMap" and "platform.yaml" in d["data"]]
    platform = tmp / f"platform-{phase}.yaml"
    platform.write_text(cm["data"]["platform.yaml"], encoding="utf-8")
    args = [*chart.args(), f"--platform-config={platform}", f"--db={db}"]
    op = OperatorProcess(cluster.env, args, tmp / f"operator-{phase}.log", chart.kubeconfig)
    with running(op):
        yield op


def settled(cluster: Cluster, servers: dict[str, Prometheus]) -> None:
    placed = settings(list(servers))

    def check() -> bool:
        for cid in CUSTOMERS:
            st = cluster.status(ALERT, cid, f"{cid}-higherrorrate")
            shard = place(cid, placed)
            want = f"ConfigMap {SINK_NS}/alertplane-rules-{cid}.{shard} (shard {shard})"
            if st.get("phase") != "Synced" or st.get("renderedTo") != [want]:
                return False
        try:
            now = loaded(servers)
        except OSError:  # a server busy: ask again
            return False
        return all(now[c] == {place(c, placed)} for c in CUSTOMERS)

    wait_for(check, 180, f"every customer loaded on exactly its shard of {list(servers)}")
    for cid in CUSTOMERS:
        cond = condition(cluster.status(ALERT, cid, f"{cid}-higherrorrate"), "Synced")
        assert cond["reason"] == "Reloaded", cond


class GapWatch(threading.Thread):
    def __init__(self, servers: dict[str, Prometheus]) -> None:
        super().__init__(daemon=True)
        self.servers, self.gaps, self.polls = servers, list[Any](), 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            try:
                now = loaded(self.servers)
            except OSError:
                continue  # a server busy reloading: its answer is not a gap
            self.polls += 1
            self.gaps += [(c, now) for c, held in now.items() if not held]


def moves_audited(db: str) -> list[tuple[str, str | None, str, str]]:
    """(customer, from, to, actor) of every move audit row, oldest first."""
    from sqlalchemy import select

    from alertplane.store.db import open_db
    from alertplane.store.tables import AuditRow

    with open_db(db)() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.kind == "Placement").order_by(AuditRow.id))
        return [
            (r.name, (r.before or {}).get("shard"), (r.after or {})["shard"], r.actor) for r in rows
        ]


def test_configmap_shards_placement_one_shard_reloads_and_moves(
    tmp_path: Path, postgres: Postgres, capsys: Any
) -> None:
    db = postgres.create_database("configmap_shards_moves")
    with started_cluster(SINK_NS) as cluster, ExitStack() as stack:
        servers: dict[str, Prometheus] = {}
        for shard in ("a", "b", "c"):
            rules = tmp_path / shard
            rules.mkdir()
            servers[shard] = stack.enter_context(Prometheus(rules, workdir=tmp_path / f"p-{shard}"))
            stack.enter_context(Sidecar(cluster, shard, rules, servers[shard].url))
        for cid in CUSTOMERS:
            cluster.namespace(cid, cid)
        two = {s: servers[s] for s in ("a", "b")}
        assert {place(c, settings(list(two))) for c in CUSTOMERS} == {"a", "b"}
        with operator_for(cluster, two, tmp_path, "ab", db):
            for cid in CUSTOMERS:
                cluster.kubectl_apply(alert(cid))
            settled(cluster, two)
            # One customer's change: only its shard is reloaded (its new rule is live there;
            # the other server's last successful reload is still the one before).
            cid = CUSTOMERS[0]
            home = place(cid, settings(list(two)))
            other = "b" if home == "a" else "a"
            before = {s: reloads(p) for s, p in two.items()}
            cluster.kubectl_apply(alert(cid, severity="warning"))
            wait_for(
                lambda: any(r["labels"].get("severity") == "warning" for r in two[home].rules()),
                120,
                f"{cid}'s change live on shard {home}",
            )
            settled(cluster, two)
            assert reloads(two[other]) == before[other], "the other shard was not reloaded"
        expected = {
            m.customer_id for m in moves(CUSTOMERS, settings(["a", "b"]), settings(["a", "b", "c"]))
        }
        assert expected, "adding c moves somebody"
        watch = GapWatch(servers)
        watch.start()
        try:
            with operator_for(cluster, servers, tmp_path, "abc", db):
                settled(cluster, servers)
        finally:
            watch.halt.set()
            watch.join(60)
        assert watch.polls > 3
        assert not watch.gaps, f"loaded on no shard: {watch.gaps[:3]}"
        names = {
            cm["metadata"]["name"]
            for cm in cluster.items("v1", "configmaps", SINK_NS)
            if cm["metadata"]["name"].startswith("alertplane-rules-")
        }
        assert names == {
            f"alertplane-rules-{c}.{place(c, settings(['a', 'b', 'c']))}" for c in CUSTOMERS
        }
        moved = {c for c in CUSTOMERS if place(c, settings(["a", "b", "c"])) == "c"}
        assert moved == expected
        # Each finished move is audited once, by the replica that finished it (the mirror
        # writes after the sync: waited for, not assumed).
        placed = settings(["a", "b"])
        want = sorted((c, place(c, placed), "c") for c in expected)
        wait_for(lambda: sorted(m[:3] for m in moves_audited(db)) == want, 60, "moves audited")
        assert all(m[3].startswith("alertplane-operator/") for m in moves_audited(db))
        # A restart finds nothing left to move: no row twice.
        with operator_for(cluster, servers, tmp_path, "abc-again", db):
            settled(cluster, servers)
        assert sorted(m[:3] for m in moves_audited(db)) == want
        capsys.readouterr()
        cid = sorted(expected)[0]
        assert main(["history", "--db", db, "--customer", cid]) == 0
        shown = capsys.readouterr().out
        assert f"move     placement/{cid}  " in shown and "+shard: c" in shown, shown

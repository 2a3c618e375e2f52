"""`alertplane serve` (standalone) with prometheus.shards: the process as users run it
writes each customer to its shard, says so in renderedTo, audits moves in the history,
and refuses --prometheus-url beside a shard list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.cli import main
from alertplane.render.placement import moves, placement
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.api_serve import ApiServer
from tests.support.cli import write
from tests.support.factories import alert, receiver
from tests.support.shards_env import ShardPrometheus, shard_servers
from tests.support.waiting import eventually

CUSTOMERS = [f"cust-{i:02d}" for i in range(8)]
DEADLINE = 180.0


def _config(path: Path, servers: list[ShardPrometheus]) -> Path:
    shards = [{"name": s.shard, "url": s.url} for s in servers]
    path.write_text(yaml.safe_dump({"prometheus": {"shards": shards}}))
    return path


def _statuses(db: str) -> dict[str, dict[str, Any]]:
    store = Store(open_db(db))
    return {r.customer_id: r.manifest()["status"] for r in store.get(kind="CustomerAlert")}


def _serve(tmp: Path, db: str, out: Path, config: Path, name: str) -> ApiServer:
    args = ["--db", db, "--out", str(out), "--platform-config", str(config)]
    return ApiServer(tmp / name, args, {"ALERTPLANE_TOKENS": str(tmp / "tokens")})


def test_serve_places_renders_to_and_audits_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "out"
    (tmp_path / "tokens").write_text("")
    manifests = write(tmp_path / "m.yaml", *map(alert, CUSTOMERS), receiver(CUSTOMERS[0]))
    assert main(["apply", "-f", manifests, "--db", db]) == 0
    with shard_servers(["a", "b", "c"], out, tmp_path) as servers:
        two = _config(tmp_path / "two.yaml", servers[:2])
        three = _config(tmp_path / "three.yaml", servers)
        with _serve(tmp_path, db, out, two, "serve-1"):
            placed = placement(CUSTOMERS, _load(two))
            want = {c: [f"shards/{placed[c]}/rules/{c}.yml"] for c in CUSTOMERS}

            def rendered() -> bool:
                got = _statuses(db)
                return all(
                    got[c]["phase"] == "Synced" and got[c]["renderedTo"] == want[c]
                    for c in CUSTOMERS
                )

            eventually(rendered, DEADLINE)
            # Receivers are not sharded: one alertmanager.yml every shard's alerts go to.
            (oncall,) = Store(open_db(db)).get(kind="CustomerReceiver")
            assert oncall.manifest()["status"]["renderedTo"] == ["alertmanager.yml"]
            assert oncall.manifest()["status"]["phase"] == "Synced"
            assert (out / "alertmanager.yml").is_file()
        moved = moves(CUSTOMERS, _load(two), _load(three))
        assert moved
        with _serve(tmp_path, db, out, three, "serve-2"):
            for m in moved:
                eventually(lambda m=m: m.customer_id in servers[2].loaded_customers(), DEADLINE)
                eventually(
                    lambda m=m: (
                        m.customer_id not in servers[0 if m.source == "a" else 1].loaded_customers()
                    ),
                    DEADLINE,
                )
        capsys.readouterr()
        for m in moved:
            assert main(["history", "--db", db, "--customer", m.customer_id]) == 0
            shown = capsys.readouterr().out
            assert f"move     placement/{m.customer_id}  " in shown
            assert f"+shard: {m.target}" in shown and f"-shard: {m.source}" in shown


def _load(path: Path) -> Any:
    from alertplane.render.platform import load_platform_config

    return load_platform_config(str(path)).prometheus


def test_serve_refuses_prometheus_url_beside_shards(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text(
        yaml.safe_dump({"prometheus": {"shards": [{"name": "a", "url": "http://a:9090"}]}})
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "alertplane.cli",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'a.db'}",
            "--out",
            str(tmp_path / "out"),
            "--platform-config",
            str(config),
            "--prometheus-url",
            "http://old:9090",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--prometheus-url" in done.stderr and "prometheus.shards[].url" in done.stderr
    assert "Traceback" not in done.stderr

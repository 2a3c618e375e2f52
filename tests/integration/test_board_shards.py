"""The board reads every Prometheus shard (each customer's own, by placement and pins):
two real Prometheus 2.42 servers, each evaluating one customer's rules. An admin's board
has both; a customer's board asks only its shard, so another shard down costs it nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alertplane.render.platform import PlatformConfig
from alertplane.render.yamlout import dump
from alertplane.service import board
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.stack.processes import Prometheus
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from tests.support.waiting import eventually


def rules(dir_: Path, customer: str, name: str) -> Path:
    dir_.mkdir()
    rule = {"alert": name, "expr": "vector(3)", "for": "1h", "labels": {"customer_id": customer}}
    (dir_ / "r.yml").write_text(dump({"groups": [{"name": "g", "rules": [rule]}]}))
    return dir_


def context(tmp_path: Path, shards: list[dict[str, Any]]) -> Context:
    platform = PlatformConfig.model_validate(
        {"prometheus": {"shards": shards, "pins": {"acme": "s1", "globex": "s2"}}}
    )
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    reconciler = Reconciler(store, SyncSettings(out_dir=tmp_path / "out", platform=platform))
    return Context(reconciler, store, ApiSettings(), platform=platform)


def test_every_shard_and_only_the_customers_own(tmp_path: Path) -> None:
    with (
        Prometheus(rules(tmp_path / "r1", "acme", "AcmePending")) as s1,
        Prometheus(rules(tmp_path / "r2", "globex", "GlobexPending")) as s2,
    ):
        ctx = context(tmp_path, [{"name": "s1", "url": s1.url}, {"name": "s2", "url": s2.url}])
        admin = Principal("admin", None)

        def both() -> board.Board | None:
            found = board.build(ctx, admin, ["acme", "globex"])
            return found if len(found.alerts) == 2 else None

        found = eventually(both, timeout=60)
        assert [(a.customer, a.alertname, a.state, a.value) for a in found.alerts] == [
            ("acme", "AcmePending", "pending", "3"),
            ("globex", "GlobexPending", "pending", "3"),
        ]
        assert found.problems == [
            "Alertmanager not configured: firing, silenced and inhibited unknown"
        ]
    # Both shards gone; globex's shard URL now nobody's: acme's board names only s1.
    ctx = context(
        tmp_path, [{"name": "s1", "url": s1.url}, {"name": "s2", "url": "http://127.0.0.1:9"}]
    )
    mine = board.build(ctx, Principal("acme-team", "acme"), ["acme"])
    assert mine.alerts == []
    assert mine.problems[1:] == ["s1: Prometheus did not answer"]

"""Silences on an HA Alertmanager: 3 real Alertmanager 0.25 replicas in a gossip cluster.

A silence is written to one replica and reaches every replica by gossip; with a replica
killed, listing, extending, expiring and creating still work through the others, and the
restarted replica catches up on everything it missed; all replicas down is a clean 503
(`Unavailable`). alertplane never writes a silence twice (one id per creation).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.errors import Unavailable
from alertplane.render.platform import PlatformConfig
from alertplane.service import silences
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.stack.processes import Alertmanager
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.support.am_cluster import AmCluster
from tests.support.silences import am_config, am_silences, silence_body
from tests.support.waiting import eventually

ACME = Access(Principal("acme-team", "acme"), "acme")


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[tuple[Context, AmCluster]]:
    with AmCluster(am_config(tmp_path), tmp_path / "am") as cluster:
        platform = PlatformConfig.model_validate({"alertmanager": {"replicas": cluster.platform()}})
        store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
        yield Context(None, store, ApiSettings(), platform=platform), cluster


def _states(cluster: AmCluster, name: str) -> dict[str, tuple[str, str]]:
    """id → (state, endsAt) on one replica."""
    url = cluster.replica(name).url
    return {s["id"]: (s["status"]["state"], s["endsAt"]) for s in am_silences(url)}


def _everywhere(cluster: AmCluster, names: list[str], want: dict[str, tuple[str, str]]) -> None:
    eventually(lambda: all(_states(cluster, n) == want for n in names), 60)


def test_a_silence_reaches_every_replica_and_survives_one_down(
    ha: tuple[Context, AmCluster],
) -> None:
    ctx, cluster = ha
    made = silences.create_silence(ctx, ACME, silence_body())
    sid = made["id"]
    # Written to one replica only (the first in the platform config's order) ...
    assert sid in _states(cluster, "am-0")
    # ... and gossiped to the others: the same silence, the same id, on all three.
    _everywhere(cluster, cluster.names, {sid: ("active", made["endsAt"])})

    cluster.kill("am-0")
    assert [s["id"] for s in silences.list_silences(ctx, ACME)] == [sid]
    longer = silences.extend_silence(ctx, ACME, sid, {"duration": "6h"})
    other = silences.create_silence(ctx, ACME, silence_body("Queue"))
    want = {longer["id"]: ("active", longer["endsAt"]), other["id"]: ("active", other["endsAt"])}
    if longer["id"] != sid:  # Alertmanager replaced it instead of updating in place
        want[sid] = ("expired", _states(cluster, "am-1")[sid][1])
    _everywhere(cluster, ["am-1", "am-2"], want)

    # Back up: the replica that missed both changes has them after joining.
    cluster.restart("am-0")
    _everywhere(cluster, cluster.names, want)

    # Expired through another replica; every replica agrees, once more by gossip.
    cluster.kill("am-1")
    gone = silences.expire_silence(ctx, ACME, other["id"])
    assert gone["status"] == {"state": "expired"}
    eventually(
        lambda: all(_states(cluster, n)[other["id"]][0] == "expired" for n in ("am-0", "am-2")),
        60,
    )
    cluster.restart("am-1")
    eventually(lambda: _states(cluster, "am-1")[other["id"]][0] == "expired", 60)
    history = ctx.store.history(customer="acme")
    assert [(h.kind, h.action) for h in history] == [
        ("Silence", "create"),
        ("Silence", "extend"),
        ("Silence", "create"),
        ("Silence", "expire"),
    ]


def test_every_replica_down_is_unavailable(ha: tuple[Context, AmCluster]) -> None:
    ctx, cluster = ha
    for name in cluster.names:
        cluster.kill(name)
    for call in (
        lambda: silences.list_silences(ctx, ACME),
        lambda: silences.create_silence(ctx, ACME, silence_body()),
    ):
        with pytest.raises(Unavailable) as caught:
            call()
        assert str(caught.value) == (
            "none of the 3 Alertmanager replicas answered; silences need Alertmanager, retry later"
        )


def test_a_hanging_alertmanager_costs_its_timeout_not_a_request(tmp_path: Path) -> None:
    """A replica that accepts connections and never answers (half-dead, SIGSTOPped): the
    call ends within the timeout with Unavailable, and with a live replica beside it the
    live one answers."""

    from tests.support.silences import am_config

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    hung = f"http://127.0.0.1:{hang.getsockname()[1]}"
    store = Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))
    try:
        ctx = Context(
            None,
            store,
            ApiSettings(alertmanager_url=hung, firing_timeout_s=1.0),
            platform=PlatformConfig(),
        )
        start = time.monotonic()
        with pytest.raises(Unavailable):
            silences.list_silences(ctx, ACME)
        assert time.monotonic() - start < 10
        with Alertmanager(am_config(tmp_path), tmp_path / "am") as am:
            replicas = [{"name": "hung", "url": hung}, {"name": "live", "url": am.url}]
            platform = PlatformConfig.model_validate({"alertmanager": {"replicas": replicas}})
            ctx = Context(None, store, ApiSettings(firing_timeout_s=1.0), platform=platform)
            made = silences.create_silence(ctx, ACME, silence_body())
            assert [s["id"] for s in silences.list_silences(ctx, ACME)] == [made["id"]]
            assert silences.expire_silence(ctx, ACME, made["id"])["status"]["state"] == "expired"
    finally:
        hang.close()

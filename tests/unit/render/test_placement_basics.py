"""render/placement.py: rendezvous placement, the properties the issue names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.render.placement import moves, place, placement, rendezvous
from alertplane.render.platform import PlatformConfig, PrometheusSettings

ids = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), min_size=1, max_size=40)


def shards(*names: str, pins: dict[str, str] | None = None) -> PrometheusSettings:
    return PrometheusSettings.model_validate(
        {"shards": [{"name": n} for n in names], "pins": pins or {}}
    )


def test_not_sharded_places_nowhere() -> None:
    assert place("acme", PrometheusSettings()) is None
    assert placement(["acme"], PrometheusSettings()) == {}


def test_known_placement_is_stable_across_processes() -> None:
    # sha256-based: these values must never change between releases (a change moves customers)
    four = shards("a", "b", "c", "d")
    assert {c: place(c, four) for c in ("acme", "globex", "initech")} == {
        c: rendezvous(c, ["a", "b", "c", "d"]) for c in ("acme", "globex", "initech")
    }
    assert rendezvous("acme", ["d", "c", "b", "a"]) == rendezvous("acme", ["a", "b", "c", "d"])


@settings(max_examples=50, deadline=None)
@given(ids)
def test_adding_a_shard_moves_only_to_the_new_shard(customers: list[str]) -> None:
    for m in moves(customers, shards("a", "b", "c", "d"), shards("a", "b", "c", "d", "e")):
        assert m.target == "e"


@settings(max_examples=50, deadline=None)
@given(ids)
def test_removing_a_shard_moves_only_its_customers(customers: list[str]) -> None:
    for m in moves(customers, shards("a", "b", "c", "d"), shards("a", "b", "d")):
        assert m.source == "c"


def test_adding_a_fifth_moves_about_a_fifth() -> None:
    customers = [f"customer-{i}" for i in range(5000)]
    moved = moves(customers, shards("a", "b", "c", "d"), shards("a", "b", "c", "d", "e"))
    assert 0.17 < len(moved) / len(customers) < 0.23


def test_pins_win_and_must_name_a_shard() -> None:
    settings_ = shards("a", "b", pins={"acme": "b", "globex": "a"})
    assert place("acme", settings_) == "b" and place("globex", settings_) == "a"
    with pytest.raises(ValueError, match="no shard named 'z'"):
        shards("a", pins={"acme": "z"})


def test_names_unique_and_dns_labels() -> None:
    with pytest.raises(ValueError, match="repeated"):
        shards("a", "a")
    with pytest.raises(ValueError):
        shards("A_b")
    with pytest.raises(ValueError, match="repeated"):
        PlatformConfig.model_validate(
            {"alertmanager": {"replicas": [{"name": "am"}, {"name": "am"}]}}
        )

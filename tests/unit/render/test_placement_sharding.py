"""Placement as the sharded sinks rely on it: fixed across releases and processes (a
changed hash would move customers on upgrade), balanced, and minimal when the list changes."""

from __future__ import annotations

import hashlib
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.render.placement import counts, moves, placement, rendezvous, score
from alertplane.render.platform import PrometheusSettings

MANY = [f"customer-{i:05d}" for i in range(4000)]


def shards(*names: str, pins: dict[str, str] | None = None) -> PrometheusSettings:
    return PrometheusSettings.model_validate(
        {"shards": [{"name": n} for n in names], "pins": pins or {}}
    )


def test_placement_is_pinned_to_known_values() -> None:
    """Written down once, never recomputed: a different hash or byte layout fails here."""
    four = ["a", "b", "c", "d"]
    assert {c: rendezvous(c, four) for c in ("acme", "globex", "initech", "hooli", "cust-00")} == {
        "acme": "b",
        "globex": "b",
        "initech": "c",
        "hooli": "d",
        "cust-00": "d",
    }
    assert score("a", "acme") == int.from_bytes(hashlib.sha256(b"a\0acme").digest()[:8], "big")


def test_four_shards_are_balanced_and_a_fifth_takes_about_a_fifth() -> None:
    four, five = shards("a", "b", "c", "d"), shards("a", "b", "c", "d", "e")
    per = counts(placement(MANY, four), four)
    assert all(0.2 * len(MANY) < n < 0.3 * len(MANY) for n in per.values()), per
    moved = moves(MANY, four, five)
    assert 0.15 * len(MANY) < len(moved) < 0.25 * len(MANY)  # modulo hashing: ~80%
    assert {m.target for m in moved} == {"e"}
    assert Counter(m.source for m in moved).keys() == {"a", "b", "c", "d"}  # from each


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), min_size=1, max_size=60),
    st.sampled_from(["a", "b", "c", "d"]),
)
def test_removing_a_shard_moves_exactly_its_customers(customers: list[str], gone: str) -> None:
    four = shards("a", "b", "c", "d")
    three = shards(*(n for n in "abcd" if n != gone))
    before = placement(customers, four)
    moved = {m.customer_id for m in moves(customers, four, three)}
    assert moved == {c for c, at in before.items() if at == gone}


@settings(max_examples=50, deadline=None)
@given(st.permutations(["a", "b", "c", "d", "e"]))
def test_the_order_of_the_shard_list_does_not_matter(order: list[str]) -> None:
    assert placement(MANY[:200], shards(*order)) == placement(MANY[:200], shards(*"abcde"))


def test_a_pin_survives_any_list_that_keeps_its_shard() -> None:
    pinned = "customer-00001"
    for names in ("ab", "abc", "abcd", "bcd"):
        assert placement([pinned], shards(*names, pins={pinned: "b"}))[pinned] == "b"

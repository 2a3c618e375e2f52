"""Merging the replicas' answers: each silence id once, the version updated last (a
replica may not have heard of a change yet)."""

from __future__ import annotations

from alertplane.service.am_silences import newest


def test_the_newest_version_of_each_silence_wins() -> None:
    old = {"id": "a", "updatedAt": "2026-12-07T16:00:00.000Z", "endsAt": "1"}
    new = {"id": "a", "updatedAt": "2026-12-07T16:00:01.000Z", "endsAt": "2"}
    other = {"id": "b", "updatedAt": "2026-12-07T15:00:00.000Z"}
    assert newest([old, other, new]) == [new, other]
    assert newest([new, old]) == [new]
    assert newest([{"updatedAt": "x"}, {"id": 3}]) == []  # no id: not a silence

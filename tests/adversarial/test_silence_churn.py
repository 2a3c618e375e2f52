"""Silences as a starvation vector, against a real Alertmanager 0.25: a customer creating
and expiring silences in a loop. Alertmanager 0.25 has no limit of its own
(`--silences.max-silences` came in 0.27) and keeps every expired silence for its retention
(`--data.retention`, 120h), walking all of them on every silence query; the cap on active
and pending silences alone never stops the loop. So the silences a customer has in
Alertmanager, expired ones included, are bounded too, and only that customer is held."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.service import silences
from tests.support.api_env import ACME, GLOBEX
from tests.support.silences import am_silences, silence_body, silence_env


def test_create_expire_loop_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(silences, "MAX_SILENCES", 2)
    monkeypatch.setattr(silences, "MAX_KEPT", 3)
    with silence_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as (env, am):
        c = env.client
        for name in ("A", "B", "C"):
            r = c.post("/customers/acme/silences", json=silence_body(name), headers=ACME)
            assert r.status_code == 201, r.text
            gone = c.delete(f"/customers/acme/silences/{r.json()['id']}", headers=ACME)
            assert gone.status_code == 200, gone.text
        r = c.post("/customers/acme/silences", json=silence_body("D"), headers=ACME)
        assert (r.status_code, r.json()["detail"]) == (
            409,
            "the customer has 3 silences in Alertmanager, expired ones included (it keeps "
            "them for its retention, 120h by default), the most alertplane allows is 3; "
            "extend a silence instead of making a new one, or wait for expired ones to be "
            "dropped",
        )
        assert len(am_silences(am.url)) == 3
        # Another customer is not held back by acme's.
        r = c.post("/customers/globex/silences", json=silence_body(), headers=GLOBEX)
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("duration", ["9000y", "99999999999y", "9" * 30 + "ms"])
def test_an_enormous_duration_is_too_long_not_a_crash(tmp_path: Path, duration: str) -> None:
    """`99999999999y` overflowed timedelta (and `9000y` the date after it): a 500."""
    with silence_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as (env, am):
        c = env.client
        made = c.post("/customers/acme/silences", json=silence_body("A"), headers=ACME).json()
        for r in (
            c.post(
                "/customers/acme/silences",
                json={**silence_body("B"), "duration": duration},
                headers=ACME,
            ),
            c.patch(
                f"/customers/acme/silences/{made['id']}",
                json={"duration": duration},
                headers=ACME,
            ),
        ):
            assert (r.status_code, [p["text"] for p in r.json()["problems"]]) == (
                422,
                ["duration: a silence lasts at most 90 days; silence for less, or fix the alert"],
            )
        assert [s["id"] for s in am_silences(am.url)] == [made["id"]]

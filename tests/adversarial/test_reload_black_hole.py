"""A reload URL that accepts connections and never answers (a hung Prometheus, a black hole
in front of it): alertplane asks once, says "reloading" meanwhile, gives up after the
give-up time (reload_flight.HANG_S, or 5 × the last reload), and never piles requests on it.
"""

from __future__ import annotations

import socket

import pytest

from alertplane.sinks import reload_flight
from alertplane.sinks.reload import reload


def test_a_target_that_never_answers_is_given_up_on_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adversarial: a reload URL that accepts connections and never answers (a hung
    Prometheus, a black hole) costs one request until the give-up time, then says so."""
    monkeypatch.setattr(reload_flight, "HANG_S", 1.0)
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        base = f"http://127.0.0.1:{hole.getsockname()[1]}"
        first = reload(base, timeout_s=0.1)
        assert first.in_flight and "reloading for" in first.message
        # The next pass waits on the same request, which gives up after HANG_S (and a
        # look at the black hole's metrics, which do not answer either).
        gave_up = reload(base, timeout_s=120)
    assert (gave_up.ok, gave_up.in_flight) == (False, False)
    assert "no answer within 1 s" in gave_up.message, gave_up.message
    assert reload_flight.POSTS[base + "/-/reload"] == 1

"""The board's query parameters as a hostile browser sends them: a `hours` that
`str.isdigit` takes for digits but `int` refuses (a superscript two) or cannot convert
(5,000 digits, over Python's 4,300-digit limit) was a 500; any value but the offered ones
is the default window (6 hours)."""

from __future__ import annotations

import pytest

from tests.support.api_env import ACME_TOKEN, ApiEnv
from tests.support.console import C, assert_page, client, env

__all__ = ["env"]  # fixture (tests/support/console.py)

ODD = ["²", "1²", "9" * 5000, "-1", "6.0", "", "06"]


@pytest.mark.parametrize("hours", ODD)
def test_any_hours_is_the_default_window_not_a_crash(env: ApiEnv, hours: str) -> None:
    acme = client(env, ACME_TOKEN)
    page = assert_page(acme.get(f"{C}/customers/acme/board", params={"hours": hours}))
    assert "Firing over the last 6 hours" in page
    assert_page(acme.get(f"{C}/customers/acme/fragments/timeline", params={"hours": hours}))

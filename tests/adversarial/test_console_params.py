"""Numbers in the console's parameters as a hostile browser sends them: what `str.isdigit`
takes for digits but `int` refuses (a superscript two) or cannot convert (5,000 digits,
over Python's 4,300-digit limit) was a 500. The board's `hours` is then the default window
(6 hours); a rollback's version is no such version; a preview's e-mail index no such one."""

from __future__ import annotations

import pytest

from tests.support.api_env import ACME_TOKEN, ApiEnv
from tests.support.console import C, assert_page, client, csrf_of, env, examples

__all__ = ["env", "examples"]  # fixtures (tests/support/console.py)

ODD = ["²", "1²", "9" * 5000, "-1", "6.0", "", "06"]


@pytest.mark.parametrize("hours", ODD)
def test_any_hours_is_the_default_window_not_a_crash(env: ApiEnv, hours: str) -> None:
    acme = client(env, ACME_TOKEN)
    page = assert_page(acme.get(f"{C}/customers/acme/board", params={"hours": hours}))
    assert "Firing over the last 6 hours" in page
    assert_page(acme.get(f"{C}/customers/acme/fragments/timeline", params={"hours": hours}))


@pytest.mark.parametrize("number", ["²", "9" * 5000])
def test_a_rollback_version_or_an_email_index_is_not_a_crash(examples: ApiEnv, number: str) -> None:
    acme = client(examples, ACME_TOKEN)
    token = csrf_of(acme.get(f"{C}/").text)
    r = acme.post(
        f"{C}/customers/acme/audit/rollback",
        data={"csrf": token, "kind": "CustomerAlert", "namespace": "acme",
              "object": "acme-target-down", "version": number},
    )  # fmt: skip
    assert_page(r, 404)  # the uniform page of what does not exist
    r = acme.post(f"{C}/customers/acme/preview", data={"csrf": token, "email": f"team:{number}"})
    assert r.status_code < 500, r.text[:300]

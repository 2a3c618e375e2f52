"""Who may do what with silences, against a real Alertmanager 0.25: every silence
endpoint × {no token, wrong token, admin, own customer, other customer}, and a property: a
customer token, whatever silence calls it makes (on any customer, any id, any body),
never receives anything of another customer's silence and never changes it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, auth
from tests.support.processes import Alertmanager
from tests.support.silences import am_silences, silence_body, silence_env

NOT_FOUND = {"detail": "customer not found"}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[ApiEnv, Alertmanager]]:
    with silence_env(db_url, tmp_path) as pair:
        yield pair


def _seed(api: ApiEnv) -> tuple[str, str]:
    """A silence of each customer: (acme's id, globex's id); globex's comment names it."""
    acme = api.client.post("/customers/acme/silences", json=silence_body(), headers=ACME)
    body = silence_body("GlobexQueue", comment="globex night maintenance")
    globex = api.client.post("/customers/globex/silences", json=body, headers=GLOBEX)
    assert acme.status_code == globex.status_code == 201, (acme.text, globex.text)
    return acme.json()["id"], globex.json()["id"]


def test_silence_authorization_matrix(env: tuple[ApiEnv, Alertmanager]) -> None:
    api, _ = env
    who = {
        "none": {},
        "wrong": auth("ap_not-a-token"),
        "admin": ADMIN,
        "own": ACME,
        "other": GLOBEX,
    }
    failures = []
    for name, headers in who.items():
        sid, _ = _seed(api)  # a fresh acme silence per caller: DELETE expires it
        item = f"/customers/acme/silences/{sid}"
        calls = [
            ("GET", "/customers/acme/silences", None, 200),
            ("POST", "/customers/acme/silences", silence_body("New"), 201),
            ("GET", item, None, 200),
            ("PATCH", item, {"duration": "3h"}, 200),
            ("PUT", item, {"duration": "4h"}, 200),
            ("DELETE", item, None, 200),
        ]
        for method, path, body, ok in calls:
            r = api.client.request(method, path, json=body, headers=headers)
            if method in ("PATCH", "PUT") and r.status_code == 200:
                item = f"/customers/acme/silences/{r.json()['id']}"  # may be a new id
            want = {"none": 401, "wrong": 401, "other": 404}.get(name, ok)
            if r.status_code != want:
                failures.append(f"{method} {path} as {name}: {r.status_code} {r.text}")
            elif name == "other" and r.json() != NOT_FOUND:
                failures.append(f"{method} {path} as other: {r.text}")
            elif name == "other" and "acme" in (r.text + json.dumps(dict(r.headers))).lower():
                failures.append(f"{method} {path} as other leaks: {r.text}")
    assert not failures, "\n".join(failures)


# -- the property ---------------------------------------------------------------------

CUSTOMERS = ["acme", "globex", "initech"]
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
).filter(lambda v: "globex" not in json.dumps(v).lower())
matcher = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["alertname", "customer_id", "severity", "Customer_id"]),
        "value": st.sampled_from(["acme", "DiskFull", ".*", "acme|initech", ".+", ""]),
    },
    optional={"isRegex": st.booleans(), "isEqual": st.booleans()},
)
bodies = st.one_of(
    st.builds(
        lambda ms, d: {"matchers": ms, "comment": "c", "duration": d},
        st.lists(matcher, min_size=1, max_size=3),
        st.sampled_from(["1h", "5m", "0s", "100d"]),
    ),
    st.fixed_dictionaries({"duration": st.sampled_from(["1h", "2d", "x"])}),
    json_values,
)


@st.composite
def calls(draw: Callable[..., Any]) -> tuple[str, str, Any]:
    customer = draw(st.sampled_from(CUSTOMERS))
    sid = draw(st.sampled_from(["ACME", "GLOBEX", "0b9c6f3e-1d2a-4c5b-8e7f-123456789abc"]))
    base = f"/customers/{customer}/silences"
    method = draw(st.sampled_from(["GET", "POST", "GET1", "PATCH", "PUT", "DELETE"]))
    if method == "GET":
        return "GET", base + draw(st.sampled_from(["", "?state=active", "?state=expired"])), None
    if method == "POST":
        return "POST", base, draw(bodies)
    path = f"{base}/{sid}"
    return method.rstrip("1"), path, draw(bodies) if method in ("PATCH", "PUT") else None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequence=st.lists(calls(), min_size=1, max_size=4))
def test_a_customer_token_never_sees_or_changes_another_customers_silence(
    env: tuple[ApiEnv, Alertmanager], sequence: list[tuple[str, str, Any]]
) -> None:
    api, am = env
    acme_id, globex_id = _seed(api)
    before = {s["id"]: s for s in am_silences(am.url)}[globex_id]
    for method, path, body in sequence:
        path = path.replace("ACME", acme_id).replace("GLOBEX", globex_id)
        r = api.client.request(method, path, json=body, headers=ACME)
        assert r.status_code < 500, (method, path, body, r.text)
        seen = (r.text + json.dumps(dict(r.headers))).lower()
        assert "globex" not in seen and globex_id not in seen, (method, path, r.text)
        if not path.startswith("/customers/acme/"):
            assert (r.status_code, r.json()) == (404, NOT_FOUND), (path, r.text)
    held = am_silences(am.url)
    after = {s["id"]: s for s in held}[globex_id]
    assert after == before  # not extended, not expired, not replaced
    # Whatever acme's token created carries customer_id="acme", equal, exactly once.
    for s in held:
        if s["createdBy"] == "acme-team":
            tenant = [m for m in s["matchers"] if m["name"] == "customer_id"]
            assert tenant == [
                {"name": "customer_id", "value": "acme", "isRegex": False, "isEqual": True}
            ], s

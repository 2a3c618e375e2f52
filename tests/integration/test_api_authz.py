"""Who may do what: every endpoint × {no token, wrong token, admin, own customer, other
customer}, and a property: a customer token never receives another customer's names."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_env import (
    ACME,
    ADMIN,
    GLOBEX,
    ApiEnv,
    alert_spec,
    api_env,
    auth,
    receiver_spec,
    record_spec,
)
from tests.support.api_seed import SEED, manifest, reset
from tests.support.slo import slo_spec

API = "alertplane.io/v1alpha1"


FOREIGN = ("globex",)  # every identifier of the other customer contains this


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path, run_reconciler=False) as env:
        reset(env)
        yield env


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    raw: str | None = None  # a YAML body

    def send(self, env: ApiEnv, headers: dict[str, str]) -> Any:
        kwargs: dict[str, Any] = {"headers": dict(headers)}
        if self.raw is not None:
            kwargs["content"] = self.raw
            kwargs["headers"]["content-type"] = "application/yaml"
        elif self.body is not None:
            kwargs["json"] = self.body
        return env.client.request(self.method, self.path, **kwargs)


A = "/customers/acme"
R = "job:errors:rate5m"  # acme's seeded recording rule
SID = "0b9c6f3e-1d2a-4c5b-8e7f-123456789abc"
ACME_DOC = json.dumps(manifest("CustomerAlert", "acme", alert_spec("Imported"), "acme-imported"))

# (call, admin, own customer, other customer); no/wrong token is always 401.
MATRIX: list[tuple[Call, int, int, int]] = [
    (Call("GET", "/customers"), 200, 200, 200),
    (Call("GET", f"{A}/alerts"), 200, 200, 404),
    (Call("POST", f"{A}/alerts", alert_spec("NewAlert")), 201, 201, 404),
    (Call("GET", f"{A}/alerts/HighErrorRate"), 200, 200, 404),
    (Call("PUT", f"{A}/alerts/HighErrorRate", alert_spec(severity="info")), 200, 200, 404),
    (Call("PATCH", f"{A}/alerts/HighErrorRate/enabled", {"enabled": False}), 200, 200, 404),
    (Call("DELETE", f"{A}/alerts/HighErrorRate"), 204, 204, 404),
    (Call("POST", f"{A}/alerts/HighErrorRate/rollback", {"version": 1}), 200, 200, 404),
    (Call("GET", f"{A}/receivers"), 200, 200, 404),
    (Call("POST", f"{A}/receivers", receiver_spec("newrecv")), 201, 201, 404),
    (Call("GET", f"{A}/receivers/oncall"), 200, 200, 404),
    (Call("PUT", f"{A}/receivers/oncall", receiver_spec()), 200, 200, 404),
    (Call("DELETE", f"{A}/receivers/oncall"), 204, 204, 404),
    (Call("POST", f"{A}/receivers/oncall/rollback", {"version": 1}), 200, 200, 404),
    (Call("GET", f"{A}/slos"), 200, 200, 404),
    (Call("POST", f"{A}/slos", slo_spec(name="new-slo")), 201, 201, 404),
    (Call("GET", f"{A}/slos/checkout"), 200, 200, 404),
    (Call("PUT", f"{A}/slos/checkout", slo_spec(objective=99.5)), 200, 200, 404),
    (Call("PATCH", f"{A}/slos/checkout/enabled", {"enabled": False}), 200, 200, 404),
    (Call("DELETE", f"{A}/slos/checkout"), 204, 204, 404),
    (Call("POST", f"{A}/slos/checkout/rollback", {"version": 1}), 200, 200, 404),
    (Call("GET", f"{A}/recordingrules"), 200, 200, 404),
    (Call("POST", f"{A}/recordingrules", record_spec("job:new:rate5m")), 201, 201, 404),
    (Call("GET", f"{A}/recordingrules/{R}"), 200, 200, 404),
    (Call("PUT", f"{A}/recordingrules/{R}", record_spec(labels={"x": "y"})), 200, 200, 404),
    (Call("PATCH", f"{A}/recordingrules/{R}/enabled", {"enabled": False}), 200, 200, 404),
    (Call("DELETE", f"{A}/recordingrules/{R}"), 204, 204, 404),
    (Call("POST", f"{A}/recordingrules/{R}/rollback", {"version": 1}), 200, 200, 404),
    (Call("POST", f"{A}/routing", {"routes": {"oncall": {"priority": 3}}}), 200, 200, 404),
    (Call("POST", f"{A}/routing/test", {"labels": {"severity": "critical"}}), 200, 200, 404),
    (Call("GET", f"{A}/audit"), 200, 200, 404),
    (Call("GET", f"{A}/firing"), 503, 503, 404),  # no Alertmanager in this test
    # Silences without an Alertmanager (with one: test_api_silences_authz.py).
    (Call("GET", f"{A}/silences"), 503, 503, 404),
    (Call("POST", f"{A}/silences", {"matchers": [{"name": "a", "value": "b"}]}), 422, 422, 404),
    (Call("GET", f"{A}/silences/{SID}"), 503, 503, 404),
    (Call("PATCH", f"{A}/silences/{SID}", {"duration": "1h"}), 503, 503, 404),
    (Call("PUT", f"{A}/silences/{SID}", {"duration": "1h"}), 503, 503, 404),
    (Call("DELETE", f"{A}/silences/{SID}"), 503, 503, 404),
    # The board answers without Alertmanager/Prometheus, naming what it could not ask.
    (Call("GET", f"{A}/board"), 200, 200, 404),
    (Call("GET", "/board"), 200, 200, 200),
    (Call("GET", "/board?customer=acme"), 200, 200, 404),
    (Call("POST", "/validate", raw=ACME_DOC), 200, 200, 403),
    (Call("POST", "/import", raw=ACME_DOC), 200, 200, 403),
    (Call("POST", "/diff", raw=ACME_DOC), 200, 200, 403),
    (Call("POST", f"{A}/alerts/preview", {"expr": 'up{customer_id="acme"}'}), 503, 503, 404),
    (Call("GET", "/export"), 200, 200, 200),
    (Call("GET", "/export?customer=acme"), 200, 200, 404),
]
NOT_FOUND = {"detail": "customer not found"}


def test_authorization_matrix(api: ApiEnv) -> None:
    who = {
        "none": {},
        "wrong": auth("ap_not-a-token"),
        "malformed": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "admin": ADMIN,
        "own": ACME,
        "other": GLOBEX,
    }
    nonexistent = api.client.get("/customers/nobody/alerts", headers=ADMIN)
    assert (nonexistent.status_code, nonexistent.json()) == (404, NOT_FOUND)
    failures = []
    for call, admin, own, other in MATRIX:
        expected = {"none": 401, "wrong": 401, "malformed": 401, "admin": admin, "own": own}
        expected["other"] = other
        for name, headers in who.items():
            reset(api)
            r = call.send(api, headers)
            if r.status_code != expected[name]:
                failures.append(f"{call.method} {call.path} as {name}: {r.status_code} {r.text}")
            elif r.status_code == 401 and r.headers.get("www-authenticate") != "Bearer":
                failures.append(f"{call.method} {call.path} as {name}: no WWW-Authenticate")
            elif name == "other" and r.status_code == 404 and r.json() != NOT_FOUND:
                # exactly what a customer that does not exist looks like
                failures.append(f"{call.method} {call.path} as other: {r.text}")
            if name == "other" and any(f in r.text.lower() for f in ("acme", "higherror")):
                failures.append(f"{call.method} {call.path} as other leaks: {r.text}")
    assert not failures, "\n".join(failures)
    assert api.client.get("/openapi.json").status_code == 200
    assert api.client.get("/docs").status_code == 200


# -- the property ---------------------------------------------------------------------

OWN_NAMES = [
    "HighErrorRate",
    "oncall",
    "acme-higherrorrate",
    "acme-oncall",
    "NewOne",
    "spare",
    "checkout",
]
FOREIGN_NAMES = [
    "GlobexOnlyAlert",
    "globex-pager",
    "globex-only-alert",
    "globex:only:rate5m",
    "globex-only-record",
    "globex-checkout",
]
CUSTOMERS = ["acme", "globex", "initech"]

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
).filter(lambda v: "globex" not in json.dumps(v).lower())

own_name = st.sampled_from(OWN_NAMES)
any_name = st.sampled_from(OWN_NAMES + FOREIGN_NAMES)
customer = st.sampled_from(CUSTOMERS)


def _alert_body(draw: Callable[..., Any]) -> Any:
    return draw(
        st.one_of(
            st.builds(
                lambda n, sev: alert_spec(n, severity=sev),
                own_name,
                st.sampled_from(["critical", "bogus"]),
            ),
            st.builds(lambda n: alert_spec(n, expr="up > 1"), own_name),
            json_values,
        )
    )


def _receiver_body(draw: Callable[..., Any]) -> Any:
    return draw(
        st.one_of(st.builds(receiver_spec, st.sampled_from(["oncall", "spare"])), json_values)
    )


def _slo_call(draw: Callable[..., Any], base: str, n: str) -> Call:
    body = draw(
        st.one_of(
            st.builds(lambda s: slo_spec(name=s), st.sampled_from(["checkout", "spare"])),
            st.builds(lambda c: slo_spec(c), st.sampled_from(["acme", "initech"])),
            json_values,
        )
    )
    how = draw(st.sampled_from(["GET", "DELETE", "PUT", "POST", "LIST", "ENABLED"]))
    if how == "POST":
        return Call("POST", f"{base}/slos", body)
    if how == "LIST":
        return Call("GET", f"{base}/slos")
    if how == "ENABLED":
        return Call("PATCH", f"{base}/slos/{n}/enabled", {"enabled": draw(st.booleans())})
    return Call(how, f"{base}/slos/{n}", body if how == "PUT" else None)


@st.composite
def requests(draw: Callable[..., Any]) -> Call:
    c, n = draw(customer), draw(any_name)
    base = f"/customers/{c}"
    choice = draw(st.integers(0, 20))
    if choice >= 19:
        return _slo_call(draw, base, n)
    if choice == 0:
        return Call("GET", "/customers")
    if choice == 1:
        return Call("GET", f"{base}/alerts")
    if choice == 2:
        return Call("POST", f"{base}/alerts", _alert_body(draw))
    if choice == 3:
        return Call(draw(st.sampled_from(["GET", "DELETE"])), f"{base}/alerts/{n}")
    if choice == 4:
        return Call("PUT", f"{base}/alerts/{n}", _alert_body(draw))
    if choice == 5:
        return Call("PATCH", f"{base}/alerts/{n}/enabled", {"enabled": draw(st.booleans())})
    if choice == 6:
        kind = draw(st.sampled_from(["alerts", "receivers"]))
        return Call("POST", f"{base}/{kind}/{n}/rollback", {"version": draw(st.integers(1, 3))})
    if choice == 7:
        return Call(draw(st.sampled_from(["GET", "DELETE"])), f"{base}/receivers/{n}")
    if choice == 8:
        return Call("POST", f"{base}/receivers", _receiver_body(draw))
    if choice == 9:
        return Call("PUT", f"{base}/receivers/{n}", _receiver_body(draw))
    if choice == 10:
        routes = draw(
            st.dictionaries(
                own_name, st.fixed_dictionaries({"priority": st.integers(0, 9)}), max_size=2
            )
        )
        return Call("POST", f"{base}/routing", {"routes": routes})
    if choice == 11:
        labels = draw(
            st.dictionaries(
                st.sampled_from(["severity", "team"]), st.sampled_from(["critical", "x"])
            )
        )
        return Call("POST", f"{base}/routing/test", {"labels": labels})
    if choice == 12:
        return Call("GET", f"{base}/audit" + draw(st.sampled_from(["", f"?name={n}"])))
    if choice == 13:
        return Call("GET", f"{base}/firing")
    if choice == 17:
        record = draw(st.sampled_from(["job:errors:rate5m", "globex:only:rate5m", "x:y"]))
        method = draw(st.sampled_from(["GET", "DELETE", "PUT", "POST"]))
        body = draw(
            st.one_of(
                st.builds(record_spec, st.sampled_from(["job:errors:rate5m", "x:y"])), json_values
            )
        )
        if method == "POST":
            return Call("POST", f"{base}/recordingrules", body)
        return Call(method, f"{base}/recordingrules/{record}", body if method == "PUT" else None)
    if choice == 14:
        return Call(
            "GET", "/export" + draw(st.sampled_from(["", f"?customer={c}", "?format=yaml"]))
        )
    docs = draw(
        st.lists(
            st.sampled_from(
                [
                    manifest("CustomerAlert", "acme", alert_spec("Imported"), "acme-imported"),
                    manifest(
                        "CustomerAlert", "acme", alert_spec("Imported", expr="up"), "acme-bad"
                    ),
                    SEED[2],
                    SEED[3],
                ]
            ),
            min_size=1,
            max_size=3,
        )
    )
    path = "/validate" if choice == 15 else "/import"
    return Call("POST", path, raw="\n---\n".join(json.dumps(d) for d in docs))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=st.lists(requests(), min_size=1, max_size=4))
def test_customer_token_never_sees_another_customer(api: ApiEnv, calls: list[Call]) -> None:
    for call in calls:
        r = call.send(api, ACME)
        # 503 only where it is due: /firing without an Alertmanager in this test.
        assert r.status_code < 500 or (r.status_code, call.path[-7:]) == (503, "/firing")
        seen = (r.text + json.dumps(dict(r.headers))).lower()
        leaked = [f for f in FOREIGN if f in seen]
        assert not leaked, (call, r.status_code, r.text)
        if "/customers/globex" in call.path or "/customers/initech" in call.path:
            assert (r.status_code, r.json()) == (404, NOT_FOUND), (call, r.text)
    # The other customer's objects are untouched by anything the token did.
    assert {s.ref.name for s in api.store.get(customer="globex")} == {
        "globex-only-alert",
        "globex-pager",
        "globex-globex-checkout",
        "globex-only-record",
    }
    assert all(h.actor == "seed" for h in api.store.history(customer="globex"))

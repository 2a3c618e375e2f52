"""Kubernetes mode: If-Match is the custom resource's metadata.generation, checked against
the object read from the API server and held until the write by its resourceVersion; a
write without If-Match that raced another is refused (409), never applied to a stale read.
The API, operator and cluster are tests/support/api_k8s_env.py's (shared, session-scoped)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adversarial.concurrency_env import at_once
from tests.support.api_env import ACME, alert_spec
from tests.support.api_k8s_env import Env

ALERT = "CustomerAlert"
BASE = "/customers/acme/alerts"


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def spec(name: str, mark: str) -> dict[str, Any]:
    return alert_spec(name, annotations={"summary": "s", "description": mark})


def test_if_match_is_the_resources_generation(env: Env) -> None:
    c, name = env.client, "IfMatchKube"
    item = f"{BASE}/{name}"
    r = c.post(BASE, json=spec(name, "w0"), headers=ACME)
    assert (r.status_code, r.headers["etag"]) == (201, '"1"'), r.text
    r = c.put(item, json=spec(name, "w1"), headers={**ACME, "If-Match": '"1"'})
    assert (r.status_code, r.headers["etag"]) == (200, '"2"'), r.text
    stale = {**ACME, "If-Match": '"1"'}
    for r in (
        c.put(item, json=spec(name, "stale"), headers=stale),
        c.patch(f"{item}/enabled", json={"enabled": False}, headers=stale),
        c.post(f"{item}/rollback", json={"version": 1}, headers=stale),
        c.delete(item, headers=stale),
    ):
        assert r.status_code == 412, r.text
        (problem,) = r.json()["problems"]
        assert (problem["path"], problem["message"]) == (
            "If-Match",
            f"alert {name!r} is at generation 2, not 1",
        )
    cr = env.cr(ALERT, "acme-ifmatchkube")
    assert cr is not None
    assert cr["metadata"]["generation"] == 2
    assert cr["spec"]["annotations"]["description"] == "w1"
    assert c.delete(item, headers={**ACME, "If-Match": '"2"'}).status_code == 204


def test_concurrent_puts_each_one_generation_or_refused(env: Env) -> None:
    c, name = env.client, "RaceKube"
    item = f"{BASE}/{name}"
    assert c.post(BASE, json=spec(name, "w0"), headers=ACME).status_code == 201
    answers = at_once(
        [lambda i=i: c.put(item, json=spec(name, f"p{i}"), headers=ACME) for i in range(12)]
    )
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 409}, [r.text for r in answers]
    acked = [r for r in answers if r.status_code == 200]
    assert acked
    generations = sorted(r.json()["metadata"]["generation"] for r in acked)
    assert generations == list(range(2, 2 + len(acked)))  # one each, none shared
    cr = env.cr(ALERT, "acme-racekube")
    assert cr is not None
    assert cr["metadata"]["generation"] == 1 + len(acked)
    last = max(acked, key=lambda r: r.json()["metadata"]["generation"])
    assert (
        cr["spec"]["annotations"]["description"]
        == last.json()["spec"]["annotations"]["description"]
    )
    c.delete(item, headers=ACME)

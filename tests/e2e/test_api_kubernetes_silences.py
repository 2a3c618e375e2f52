"""Silences in Kubernetes mode (the API over a real kube-apiserver with tenant binding on,
its database the operator's mirror) against a real Alertmanager 0.25: the same scope and
audit as standalone; the audit row of a silence (no namespace) is its customer's to read
under tenant binding, and nobody else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.stack.processes import Alertmanager
from tests.support.api_env import ACME, GLOBEX
from tests.support.api_k8s_env import Env
from tests.support.silences import am_config, am_silences, silence_body


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def test_silences_in_kubernetes_mode(env: Env, tmp_path: Path) -> None:
    with Alertmanager(am_config(tmp_path), tmp_path / "am") as am:
        c = env.app(alertmanager_url=am.url)
        r = c.post("/customers/acme/silences", json=silence_body(), headers=ACME)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        [held] = am_silences(am.url)
        assert held["matchers"][0] == {
            "name": "customer_id",
            "value": "acme",
            "isRegex": False,
            "isEqual": True,
        }
        assert [
            s["id"] for s in c.get("/customers/acme/silences", headers=ACME).json()["items"]
        ] == [sid]
        assert c.get(f"/customers/globex/silences/{sid}", headers=GLOBEX).status_code == 404
        assert c.delete(f"/customers/acme/silences/{sid}", headers=ACME).status_code == 200
        audit = c.get("/customers/acme/audit", headers=ACME).json()["items"]
        rows = [(a["action"], a["name"]) for a in audit if a["kind"] == "Silence"]
        assert rows[-2:] == [("create", sid), ("expire", sid)]
        theirs = c.get("/customers/globex/audit", headers=GLOBEX)
        assert all(a["kind"] != "Silence" for a in theirs.json().get("items", []))

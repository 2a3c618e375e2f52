"""/customers/{id}/slos on SQLite and PostgreSQL: CRUD, status, audit, the rules file, and a
customer token confined to its own SLOs; the reconciler runs promtool on what it renders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, alert_spec, api_env
from tests.support.slo import slo_spec

BASE = "/customers/acme/slos"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def _groups(api: ApiEnv, customer: str = "acme") -> list[str]:
    text = (api.out / "rules" / f"{customer}.yml").read_text(encoding="utf-8")
    return [g["name"] for g in yaml.safe_load(text)["groups"]]


def test_slo_crud_renders_into_the_customers_rule_file(api: ApiEnv) -> None:
    c = api.client
    assert c.post("/customers/acme/alerts?wait=true", json=alert_spec(), headers=ACME).is_success
    r = c.post(f"{BASE}?wait=true", json=slo_spec(), headers=ACME)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{BASE}/checkout"
    assert r.json()["metadata"]["name"] == "acme-checkout"
    assert r.json()["status"]["phase"] == "Synced", r.json()["status"]
    assert r.json()["status"]["renderedTo"] == ["rules/acme.yml"]
    # The alert groups first, then the SLO's group.
    assert _groups(api) == ["acme-application", "acme-slo-checkout"]
    assert c.post(BASE, json=slo_spec(), headers=ACME).status_code == 409
    listed = c.get(BASE, headers=ACME).json()["items"]
    assert [i["spec"]["sloName"] for i in listed] == ["checkout"]

    r = c.put(f"{BASE}/checkout?wait=true", json=slo_spec(objective=99.5), headers=ACME)
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2
    assert "(14.4 * 0.005)" in (api.out / "rules" / "acme.yml").read_text(encoding="utf-8")

    r = c.patch(f"{BASE}/checkout/enabled?wait=true", json={"enabled": False}, headers=ACME)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Disabled", r.text
    assert _groups(api) == ["acme-application"]

    r = c.post(f"{BASE}/checkout/rollback?wait=true", json={"version": 1}, headers=ACME)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["objective"] == 99.9
    assert _groups(api) == ["acme-application", "acme-slo-checkout"]

    audit = c.get("/customers/acme/audit", headers=ACME).json()["items"]
    kinds = [(a["kind"], a.get("action")) for a in audit if a["kind"] == "CustomerSLO"]
    assert len(kinds) >= 4, audit

    assert c.delete(f"{BASE}/checkout", headers=ACME).status_code == 204
    assert c.get(f"{BASE}/checkout", headers=ACME).status_code == 404
    counts = c.get("/customers", headers=ADMIN).json()["items"]
    assert {i["customerId"]: i["slos"] for i in counts}["acme"] == 0


def test_refusals_name_the_field(api: ApiEnv) -> None:
    c = api.client
    bad = slo_spec(
        sli={
            "events": {
                "errorQuery": "sum(rate(e[{{.window}}]))",
                "totalQuery": 'sum(rate(t{customer_id="acme"}[{{.window}}]))',
            }
        }
    )
    r = c.post(BASE, json=bad, headers=ACME)
    assert r.status_code == 422, r.text
    assert [(p["path"], p["message"]) for p in r.json()["problems"]] == [
        ("spec.sli.events.errorQuery", 'selector e{} has no customer_id="acme" matcher')
    ]
    r = c.post(BASE, json=slo_spec(period="1d"), headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["message"] == "period '1d' is outside 7d to 90d"
    # autoInject adds the matcher instead, and what is stored is the injected query.
    r = c.post(f"{BASE}?wait=true", json={**bad, "autoInject": True}, headers=ACME)
    assert r.status_code == 201, r.text
    stored = r.json()["spec"]["sli"]["events"]["errorQuery"]
    assert stored == 'sum(rate(e{customer_id="acme"}[{{.window}}]))'
    assert r.json()["status"]["phase"] == "Synced"


def test_a_customer_token_sees_only_its_own_slos(api: ApiEnv) -> None:
    c = api.client
    assert c.post(BASE, json=slo_spec(), headers=ACME).status_code == 201
    assert c.get(BASE, headers=GLOBEX).status_code in (403, 404)
    assert c.get(f"{BASE}/checkout", headers=GLOBEX).status_code in (403, 404)
    assert c.delete(f"{BASE}/checkout", headers=GLOBEX).status_code in (403, 404)
    # globex's own SLO of the same name is another object; its queries must be globex's.
    r = c.post("/customers/globex/slos", json=slo_spec("acme"), headers=GLOBEX)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.sli.events.errorQuery"
    r = c.post("/customers/globex/slos", json=slo_spec("globex"), headers=GLOBEX)
    assert r.status_code == 201, r.text
    assert c.get(BASE, headers=ACME).json()["items"][0]["spec"]["customerId"] == "acme"

"""POST /import and /validate with format=prometheus: rule files and alertmanager.yml
converted as `alertplane import` converts them, under the same tenant rules (a customer
token imports for itself only), on the API with its store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api_env import ACME, ADMIN, ApiEnv, alert_spec, api_env

YAML = {"content-type": "application/yaml"}
RULES = """\
groups:
  - name: web
    rules:
      - alert: HighErrorRate
        expr: sum(rate(http_errors_total[5m])) > 1
        for: 5m
        labels: {severity: critical, team: web}
      - alert: Heartbeat
        expr: vector(1)
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: up_total
        expr: sum(up)
"""
LABELLED = """\
groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        labels: {tenant: acme}
      - alert: B
        expr: up == 0
        labels: {tenant: globex}
"""
ALERTMANAGER = """\
route:
  receiver: default
  routes:
    - matchers: ['customer_id="acme"']
      receiver: acme-hook
receivers:
  - name: default
  - name: acme-hook
    webhook_configs: [{url: "https://acme.example/hook"}]
"""


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def test_rules_are_converted_imported_and_the_refused_named(api: ApiEnv) -> None:
    r = api.client.post(
        "/import?format=prometheus&customer=acme", content=RULES, headers={**ADMIN, **YAML}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(c["kind"], c["name"], c["action"]) for c in body["changes"]] == [
        ("CustomerAlert", "acme-high-error-rate", "created"),
        ("CustomerRecordingRule", "acme-job-up-sum", "created"),
    ]
    assert [p["text"] for p in body["refused"]] == [
        "body:1 (document 1) group 'web' rule 2 (Heartbeat): expression selects no series, "
        "so it cannot be tied to this customer",
        "body:1 (document 1) group 'web' rule 4 (up_total): record 'up_total' has no ':': a "
        "recorded series must not take the name of a scraped metric; rename it and the rules "
        "that read it, e.g. to ':up_total'",
    ]
    stored, record = api.store.get()
    assert stored.spec["expr"] == 'sum(rate(http_errors_total{customer_id="acme"}[5m])) > 1'
    assert stored.spec["labels"] == {"team": "web"} and stored.spec["severity"] == "critical"
    assert record.spec["expr"] == 'sum by (job) (up{customer_id="acme"})'


def test_validate_converts_without_storing(api: ApiEnv) -> None:
    r = api.client.post(
        "/validate?format=prometheus&customer=acme", content=RULES, headers={**ADMIN, **YAML}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["valid"], r.json()["objects"], len(r.json()["refused"])) == (False, 2, 2)
    assert api.store.get() == []


def test_a_customer_token_imports_for_itself_only(api: ApiEnv) -> None:
    own = api.client.post("/import?format=prometheus", content=RULES, headers={**ACME, **YAML})
    assert own.status_code == 200, own.text  # customer defaults to the token's
    for query in ("customer=globex", "customerLabel=tenant"):
        r = api.client.post(
            f"/import?format=prometheus&{query}", content=LABELLED, headers={**ACME, **YAML}
        )
        assert r.status_code == 403, r.text
        assert r.json()["problems"][0]["message"] == (
            "this token may only import rules for its own customer"
        )
    assert [s.customer_id for s in api.store.get()] == ["acme", "acme"]  # alert, record


def test_an_admin_maps_labels_to_customers(api: ApiEnv) -> None:
    r = api.client.post(
        "/import?format=prometheus&customerLabel=tenant",
        content=LABELLED,
        headers={**ADMIN, **YAML},
    )
    assert r.status_code == 200, r.text
    assert sorted((s.customer_id, s.spec["expr"]) for s in api.store.get()) == [
        ("acme", 'up{customer_id="acme"} == 0'),
        ("globex", 'up{customer_id="globex"} == 0'),
    ]


def test_alertmanager_yml_becomes_receivers(api: ApiEnv) -> None:
    r = api.client.post(
        "/import?format=prometheus&customerLabel=customer_id",
        content=ALERTMANAGER,
        headers={**ADMIN, **YAML},
    )
    assert r.status_code == 200, r.text
    (stored,) = api.store.get()
    assert (stored.kind, stored.spec["receiverName"]) == ("CustomerReceiver", "hook")
    assert stored.spec["webhook"] == [{"url": "https://acme.example/hook"}]


def test_nothing_convertible_is_422_with_the_reasons(api: ApiEnv) -> None:
    r = api.client.post(
        "/import?format=prometheus&customer=acme",
        content="groups: [{name: g, rules: [{alert: X, expr: vector(1)}]}]",
        headers={**ADMIN, **YAML},
    )
    assert r.status_code == 422, r.text
    assert "expression selects no series" in r.json()["problems"][0]["message"]
    missing = api.client.post("/import?format=prometheus", content=RULES, headers=ADMIN)
    assert missing.status_code == 422
    assert missing.json()["problems"][0]["message"] == (
        "say whose rules these are: customer=ID or customerLabel=NAME"
    )


def test_auto_inject_through_the_api(api: ApiEnv) -> None:
    """The same injector behind `autoInject: true` on the object routes."""
    spec = alert_spec(expr="rate(errors_total[5m]) > 1", autoInject=True)
    r = api.client.post("/customers/acme/alerts?wait=true", json=spec, headers=ACME)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["expr"] == 'rate(errors_total{customer_id="acme"}[5m]) > 1'
    off = alert_spec("Other", expr="rate(errors_total[5m]) > 1")
    r = api.client.post("/customers/acme/alerts", json=off, headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["message"] == (
        'selector errors_total{} has no customer_id="acme" matcher'
    )

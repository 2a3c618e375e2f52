"""POST /validate and POST /import name where each problem's field is in a YAML body
(`problems[].where`, `body:line:column`, as `alertplane validate` prints it); JSON bodies
carry no positions, and the rest of each problem is as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_env import ACME, ApiEnv, api_env

YAML = {**ACME, "content-type": "application/yaml"}
BODY = """\
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-disk
  namespace: acme
spec:
  customerId: acme
  alertName: Disk
  category: infrastructure
  severity: warning
  expr: |
    node_filesystem_avail_bytes{customer_id="acme"}
      / on(device node_filesystem_size_bytes{customer_id="acme"} < 0.1
---
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-cpu
  namespace: acme
spec:
  customerId: acme
  alertName: Cpu
  category: infrastructure
  severity: urgent
  expr: node_cpu_busy{customer_id="acme"} > 0.9
"""
PROMQL = "invalid PromQL at 2:7: unclosed left parenthesis"
SEVERITY = "'urgent' is not allowed"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def _placed(problems: list[dict[str, str]]) -> list[tuple[str | None, str, str]]:
    return [(p.get("where"), p["path"], p["message"].split(";")[0]) for p in problems]


def test_validate_names_the_line_and_column_of_each_field(api: ApiEnv) -> None:
    r = api.client.post("/validate?tools=false", content=BODY, headers=YAML)
    assert r.status_code == 200, r.text
    # the token `(`: line 2, column 7 of the block is body line 13, column 4 + 7
    assert _placed(r.json()["problems"]) == [
        ("body:13:11", "spec.expr", PROMQL),
        ("body:24:3", "spec.severity", SEVERITY),
    ]
    first = r.json()["problems"][0]
    assert first["text"] == (  # as `alertplane validate` prints it
        f"body:13:11: CustomerAlert acme/acme-disk: spec.expr: {PROMQL}; fix the expression; "
        "it must be valid Prometheus PromQL"
    )


def test_import_names_them_too_and_stores_nothing(api: ApiEnv) -> None:
    r = api.client.post("/import", content=BODY, headers=YAML)
    assert r.status_code == 422, r.text
    assert _placed(r.json()["problems"]) == [
        ("body:13:11", "spec.expr", PROMQL),
        ("body:24:3", "spec.severity", SEVERITY),
    ]
    assert api.store.get() == []


def test_a_json_body_has_no_positions(api: ApiEnv) -> None:
    docs = list(yaml.safe_load_all(BODY))
    r = api.client.post("/validate?tools=false", json=docs, headers=ACME)
    assert r.status_code == 200, r.text
    assert _placed(r.json()["problems"]) == [
        (None, "spec.expr", PROMQL),
        (None, "spec.severity", SEVERITY),
    ]

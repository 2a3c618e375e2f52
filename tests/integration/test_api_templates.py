"""spec.template and spec.tests through the REST API: a customer token creates an alert
from the catalogue, reads back the template's expression, edits the params by sending
back what it read (expr and all), and is refused with the range; a hostile parameter
never reaches another customer; a failing test marks the alert Invalid (not refused)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.api_env import ACME, ApiEnv, alert_spec, api_env
from tests.support.paths import EXAMPLES

BASE = "/customers/acme/alerts"
CATALOGUE = yaml.safe_load((EXAMPLES / "platform-templates.yaml").read_text())


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path, platform_extra=CATALOGUE) as env:
        yield env


def templated(**params: Any) -> dict[str, Any]:
    spec = alert_spec("ApiErrors", template={"name": "error-ratio", "params": params})
    del spec["expr"], spec["annotations"]
    return spec


def test_create_read_and_send_back(api: ApiEnv) -> None:
    c = api.client
    r = c.post(
        f"{BASE}?wait=true", json=templated(selector='job="api"', threshold=0.1), headers=ACME
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"]["phase"] == "Synced"
    spec = body["spec"]
    assert spec["template"] == {
        "name": "error-ratio",
        "params": {"selector": 'job="api"', "threshold": "0.1"},
    }
    assert 'job="api",customer_id="acme"}[5m]' in spec["expr"] and spec["for"] == "5m"
    rule = yaml.safe_load((api.out / "rules" / "acme.yml").read_text())["groups"][0]["rules"][0]
    assert rule["expr"] == spec["expr"]

    # What GET returned, with one param changed, is a valid PUT: expr is the template's.
    spec["template"]["params"]["threshold"] = "0.2"
    r = c.put(f"{BASE}/ApiErrors?wait=true", json=spec, headers=ACME)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["expr"].rstrip().endswith("> 0.2")

    spec["template"]["params"]["threshold"] = "0.7"
    r = c.put(f"{BASE}/ApiErrors", json=spec, headers=ACME)
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert (problem["path"], problem["message"], problem["hint"]) == (
        "spec.template.params.threshold",
        "0.7 is above the maximum 0.5",
        "template 'error-ratio' allows threshold from 0.001 to 0.5",
    )


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"selector": 'customer_id="globex"'}, "spec.template.params.selector"),
        ({"selector": 'job=~".+"} or up{customer_id="globex"'}, "spec.template.params.selector"),
        ({"window": '5m]) or up{customer_id="globex"}[5m'}, "spec.template.params.window"),
        ({"threshold": '0 or up{customer_id="globex"}'}, "spec.template.params.threshold"),
    ],
)
def test_hostile_params_are_refused(api: ApiEnv, params: dict[str, str], path: str) -> None:
    r = api.client.post(BASE, json=templated(**params), headers=ACME)
    assert r.status_code == 422, r.text
    assert [p["path"] for p in r.json()["problems"]] == [path]


def test_a_failing_rule_test_marks_invalid_not_refused(api: ApiEnv) -> None:
    test = {
        "inputSeries": [{"series": 'errors_total{service="a"}', "values": "0x20"}],
        "alertRuleTests": [{"evalTime": "10m", "expAlerts": [{"expLabels": {"service": "a"}}]}],
    }
    r = api.client.post(f"{BASE}?wait=true", json=alert_spec(tests=[test]), headers=ACME)
    assert r.status_code == 201, r.text
    status = r.json()["status"]
    assert status["phase"] == "Invalid"
    valid = status["conditions"][0]
    assert valid["message"].startswith(
        "spec.tests[0]: the test fails: alertname: HighErrorRate, time: 10m, exp:[ 0: Labels:"
    )
    assert valid["message"].endswith("got:[]; fix the test or the alert; the test runs with "
                                     "promtool test rules (Prometheus 2.42)")  # fmt: skip

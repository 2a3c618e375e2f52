"""A hostile customer's CustomerSLO: every way its queries, templates or labels could read,
forge or page for another customer is refused with the same line by `alertplane validate`
and the REST API (SQLite); a forged `customer_id` in the SLI's result is overwritten by the
recording rule's own label, so another customer's SLO of the same name never pages for it
(real `promtool test rules`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.render.slo import slo_groups
from alertplane.render.yamlout import dump
from tests.support.api_env import ACME, ApiEnv, api_env
from tests.support.problems import lines
from tests.support.slo import TOTAL, slo, slo_obj

OWN_TOTAL = TOTAL.format(c="acme")
P = "spec.sli.events.errorQuery"


def _events(error: str) -> dict[str, Any]:
    return {"sli": {"events": {"errorQuery": error, "totalQuery": OWN_TOTAL}}}


ATTACKS: list[tuple[str, dict[str, Any], str]] = [
    (
        "another-customer",
        _events('sum(rate(e{customer_id="globex"}[{{.window}}]))'),
        f'{P}: selector e{{customer_id="globex"}} selects customer "globex"; an alert of '
        'customer acme may only select customer_id="acme"',
    ),
    (
        "regex-tenant",
        _events('sum(rate(e{customer_id=~"acme|globex"}[{{.window}}]))'),
        f'{P}: selector e{{customer_id=~"acme|globex"}} matches customer_id with =~; use '
        'customer_id="acme" (equality); a customer may only select its own series',
    ),
    (
        "window-in-tenant",
        _events('sum(rate(e{customer_id="acme{{.window}}"}[{{.window}}]))'),
        f"{P}: a query may hold {{{{.window}}}} only as a range, [{{{{.window}}}}], and no "
        "other template; write each range as [{{.window}}], e.g. "
        "rate(http_requests_total{...}[{{.window}}])",
    ),
    (
        "autoinject-keeps-refusing",
        {**_events('sum(rate(e{customer_id="globex"}[{{.window}}]))'), "autoInject": True},
        f'{P}: selector e{{customer_id="globex"}} selects customer "globex"; an alert of '
        'customer acme may only select customer_id="acme"',
    ),
    (
        # The ratio rule writes `)` and the other query after the query: a comment would
        # swallow them (it was refused as "a bug in alertplane" by the rendered check).
        "comment-swallows-the-ratio",
        _events('sum(rate(e{customer_id="acme", path="#1"}[{{.window}}])) # 5xx'),
        f"{P}: a query may not hold a # comment (at character 58): the ratio rule writes "
        "the rest of the expression after it on the same line; remove the comment (say it "
        "in spec.description)",
    ),
    (
        "description-queries-everyone",
        {"description": '{{ with query "up" }}{{ . | first | value }}{{ end }}'},
        "spec.description: ",
    ),
    (
        "label-queries-everyone",
        {
            "alerting": {
                "pageAlertName": "P",
                "ticketAlertName": "T",
                "labels": {"team": '{{ with query "up" }}{{ . | first | label "team" }}{{ end }}'},
            }
        },
        "spec.alerting.labels.team: ",
    ),
    (
        "route-as-another",
        {
            "alerting": {
                "pageAlertName": "P",
                "ticketAlertName": "T",
                "labels": {"customer_id": "globex"},
            }
        },
        "spec.alerting.labels.customer_id: label 'customer_id' is set by alertplane; remove "
        "it; set spec.customerId",
    ),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("slo-hostile")
    with api_env(f"sqlite:///{tmp / 'db.sqlite'}", tmp) as env:
        yield env


@pytest.mark.parametrize(("spec", "line"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_refused_alike_by_validate_and_the_api(
    api: ApiEnv, spec: dict[str, Any], line: str
) -> None:
    (printed,) = lines(slo(**spec))
    assert printed.startswith(f"CustomerSLO acme/acme-checkout: {line}"), printed
    body = {k: v for k, v in slo(**spec)["spec"].items() if k != "customerId"}
    r = api.client.post("/customers/acme/slos", json=body, headers=ACME)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["problems"]
    assert f"{problem['path']}: {problem['message']}".startswith(line.split("; ")[0])
    assert api.client.get("/customers/acme/slos", headers=ACME).json()["items"] == []


def test_a_forged_tenant_in_the_sli_pages_its_owner_only(tmp_path: Path) -> None:
    # acme's SLI relabels its own (failing) series as globex's; both SLOs are `checkout`.
    def forged(code: str) -> str:
        return (
            f'label_replace(sum(rate(http_requests_total{{customer_id="acme"{code}}}'
            '[{{.window}}])), "customer_id", "globex", "", "")'
        )

    events = {"sli": {"events": {"errorQuery": forged(', code="500"'), "totalQuery": forged("")}}}
    alerting = {"pageAlertName": "Page", "ticketAlertName": "Ticket"}
    acme = slo_obj("acme", **events, alerting=alerting)
    globex = slo_obj("globex", alerting=alerting)
    assert lines(slo("acme", **events)) == []  # every selector is acme's own
    for obj in (acme, globex):
        groups = slo_groups(obj.spec.customer_id, [obj.spec])
        (tmp_path / f"{obj.spec.customer_id}.yml").write_text(dump({"groups": groups}))
    series = []
    for customer, errors in (("acme", 500), ("globex", 0)):
        for code, per_minute in (("500", errors), ("200", 1000 - errors)):
            series.append(
                {
                    "series": f'http_requests_total{{customer_id="{customer}", code="{code}"}}',
                    "values": f"0+{per_minute}x60",
                }
            )
    spec = {
        "rule_files": ["acme.yml", "globex.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "eval_time": "30m",
                        "expr": "count by (customer_id) "
                        '(ALERTS{alertname="Page", alertstate="firing"})',
                        "exp_samples": [{"labels": '{customer_id="acme"}', "value": 1}],
                    },
                    {
                        "eval_time": "30m",
                        "expr": 'slo:sli_error:ratio_rate5m{customer_id="globex"}',
                        "exp_samples": [
                            {
                                "labels": 'slo:sli_error:ratio_rate5m{customer_id="globex", '
                                'slo="checkout", slo_window="5m"}',
                                "value": 0,
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        ["promtool", "test", "rules", "t.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

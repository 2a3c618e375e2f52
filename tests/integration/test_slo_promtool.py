"""CustomerSLO burn-rate alerts fire as the SRE workbook says, on the customer's own series
only (`promtool test rules` on the rendered rules).

Two customers each have an SLO named `checkout` (99.9 %: an error budget of 0.1 %) over the
same metric; each customer's series exist beside the other's. Traffic is 1,000 requests a
minute; `errors` per minute sets the burn rate (1 error a minute is 1×). The scenarios:

- 1× for 6h: the page alert never fires (it needs 14.4× over 1h and 5m, or 6× over 6h and
  30m);
- 15× from the start: the page fires within the short window (at 5m);
- 100× for 2h, then no errors: the page still fires 3m later and has reset 35m later (both
  short windows clean) while the 1h ratio is still far above 14.4×: the short windows make
  the alert stop soon after the burn;
- 4× for 3h: the ticket (3× over 1d and 2h) fires, the page does not;
- globex burns 500× while acme is at 1×: only globex's page fires, each customer's
  recorded ratios are its own, and every recorded series carries its customer_id.

Each scenario's expected alerts list every label and annotation; mutation tests prove the
spec fails when the recording rules lose `customer_id`, when the alerts read every
customer's ratios, or when the page alert loses its short windows.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.model.slo import CustomerSLO
from alertplane.render.slo import slo_groups
from alertplane.render.yamlout import dump
from tests.support.slo import slo_obj

TRAFFIC = 1000  # requests per minute
HORIZON = 400  # minutes of samples


def _slos() -> list[CustomerSLO]:
    alerting = {"pageAlertName": "CheckoutPage", "ticketAlertName": "CheckoutTicket"}
    return [slo_obj(c, "checkout", alerting=alerting) for c in ("acme", "globex")]


Rule = dict[str, Any]


def _drop_recorded_customer(rule: Rule) -> None:
    if "record" in rule:
        rule["labels"].pop("customer_id")


def _drop_alert_tenant_matcher(rule: Rule) -> None:
    if "alert" in rule:
        for c in ("acme", "globex"):
            rule["expr"] = rule["expr"].replace(f'customer_id="{c}", ', "")


def _drop_short_windows(rule: Rule) -> None:
    if rule.get("alert") == "CheckoutPage":
        rule["expr"] = re.sub(
            r"max\(slo:sli_error:ratio_rate(5m|30m)[^\n]*\n  and\n", "", rule["expr"]
        )


MUTATIONS: dict[str, Callable[[Rule], None]] = {
    "recording rules without customer_id": _drop_recorded_customer,
    "alerts read every customer's ratios": _drop_alert_tenant_matcher,
    "page without its short windows": _drop_short_windows,
}


def _render(directory: Path, mutate: Callable[[Rule], None] | None = None) -> list[str]:
    files = []
    for obj in _slos():
        groups = slo_groups(obj.spec.customer_id, [obj.spec])
        before = dump({"groups": groups})
        if mutate is not None:
            for rule in groups[0]["rules"]:
                mutate(rule)
            assert dump({"groups": groups}) != before, "the mutation changed nothing"
        path = directory / f"{obj.spec.customer_id}.yml"
        path.write_text(dump({"groups": groups}), encoding="utf-8")
        files.append(path.name)
    return files


def _series(customer: str, errors: int, minutes: int = HORIZON) -> list[Any]:
    """`errors` of the 1,000 requests a minute fail for `minutes`, none after."""
    metric = "http_requests_total"
    bad, good = f"0+{errors}x{minutes}", f"0+{TRAFFIC - errors}x{minutes}"
    if minutes < HORIZON:
        rest = HORIZON - minutes
        bad += f" {errors * minutes}+0x{rest}"
        good += f" {(TRAFFIC - errors) * minutes + TRAFFIC}+{TRAFFIC}x{rest - 1}"
    return [
        {"series": f'{metric}{{customer_id="{customer}", code="500"}}', "values": bad},
        {"series": f'{metric}{{customer_id="{customer}", code="200"}}', "values": good},
    ]


def _alert(customer: str, kind: str, budget_left: str) -> dict[str, Any]:
    page = kind == "page"
    return {
        "exp_labels": {
            "customer_id": customer,
            "slo": "checkout",
            "slo_severity": kind,
            "severity": "critical" if page else "warning",
            "category": "application",
        },
        "exp_annotations": {
            "summary": "SLO checkout (99.9% over 30d) is burning its error budget "
            + ("fast" if page else "steadily"),
            "objective": "99.9%",
            "error_budget": "0.1% of events over 30d",
            "burn_rate_thresholds": "14.4× over 1h and 5m, or 6× over 6h and 30m"
            if page
            else "3× over 1d and 2h, or 1× over 3d and 6h",
            "error_budget_remaining": budget_left,
        },
    }


def _case(series: list[Any], alerts: list[Any], exprs: Sequence[Any] = ()) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": alerts,
        "promql_expr_test": list(exprs),
    }


def _no(name: str, *times: str) -> list[dict[str, Any]]:
    return [{"eval_time": t, "alertname": name, "exp_alerts": []} for t in times]


def _spec(files: list[str]) -> dict[str, Any]:
    tests = [
        # 1× for 6h: no page, ever.
        _case(
            _series("acme", 1),
            _no("CheckoutPage", "5m", "1h", "3h", "6h"),
        ),
        # 15× from the start: the page fires within the short window.
        _case(
            _series("acme", 15),
            [
                {
                    "eval_time": "5m",
                    "alertname": "CheckoutPage",
                    "exp_alerts": [_alert("acme", "page", "-1400%")],
                },
            ],
        ),
        # 100× for 2h, then none: still paging 3m after, reset 35m after.
        _case(
            _series("acme", 100, minutes=120),
            [
                {
                    "eval_time": "123m",
                    "alertname": "CheckoutPage",
                    # The period's ratio is the mean of the 5m ratios: 120 at 0.1, then
                    # 0.08, 0.06, 0.04 as the burn leaves the window: 1 - 0.09902/0.001.
                    "exp_alerts": [_alert("acme", "page", "-9802%")],
                },
                *_no("CheckoutPage", "155m"),
            ],
            [
                {
                    "eval_time": "155m",
                    # The 1h ratio is still 2,500 errors in 60,000 requests (29× the budget).
                    "expr": 'round(slo:sli_error:ratio_rate1h{customer_id="acme"} * 60000)',
                    "exp_samples": [
                        {
                            "labels": '{customer_id="acme", slo="checkout", slo_window="1h"}',
                            "value": 2500,
                        }
                    ],
                }
            ],
        ),
        # 4× for 3h: a ticket, no page.
        _case(
            _series("acme", 4),
            [
                {
                    "eval_time": "3h",
                    "alertname": "CheckoutTicket",
                    "exp_alerts": [_alert("acme", "ticket", "-300%")],
                },
                *_no("CheckoutPage", "3h"),
            ],
        ),
        # globex at 500×, acme at 1×: globex's page only; each ratio its own customer's.
        _case(
            _series("acme", 1) + _series("globex", 500),
            [
                {
                    "eval_time": "30m",
                    "alertname": "CheckoutPage",
                    # humanizePercentage: four significant digits.
                    "exp_alerts": [_alert("globex", "page", "-4.99e+04%")],
                },
            ],
            [
                {
                    "eval_time": "30m",
                    "expr": "slo:sli_error:ratio_rate5m",
                    "exp_samples": [
                        {
                            "labels": f'slo:sli_error:ratio_rate5m{{customer_id="{c}", '
                            'slo="checkout", slo_window="5m"}',
                            "value": value,
                        }
                        for c, value in (("acme", 0.001), ("globex", 0.5))
                    ],
                },
                {"eval_time": "30m", "expr": '{__name__=~"slo:.+", customer_id=""}'},
                {
                    "eval_time": "30m",
                    "expr": 'count by (customer_id) ({__name__=~"slo:.+"})',
                    "exp_samples": [
                        {"labels": f'{{customer_id="{c}"}}', "value": 11}
                        for c in ("acme", "globex")
                    ],
                },
            ],
        ),
    ]
    return {"rule_files": files, "evaluation_interval": "1m", "tests": tests}


def _promtool_test(directory: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    (directory / "slo_test.yml").write_text(yaml.safe_dump(_spec(files)), encoding="utf-8")
    return subprocess.run(
        ["promtool", "test", "rules", "slo_test.yml"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def test_burn_rate_alerts_fire_as_the_workbook_says(tmp_path: Path) -> None:
    proc = _promtool_test(tmp_path, _render(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=list(MUTATIONS))
def test_spec_catches_a_changed_rendering(tmp_path: Path, mutate: Callable[[Rule], None]) -> None:
    proc = _promtool_test(tmp_path, _render(tmp_path, mutate))
    assert proc.returncode != 0, "promtool test rules passed on mutated rules"
    output = proc.stdout + proc.stderr
    assert "got:" in output or "err:" in output, output

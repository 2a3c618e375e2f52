"""spec.tests, the pure half: bounds and the customer's own series, every message exact;
the promtool test file an alert's tests become. (promtool runs them in
tests/integration/test_rule_tests.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from alertplane.model import CustomerAlert
from alertplane.validate.ruletests import own_series, promtool_test_files, sample_count
from tests.support.factories import alert, obj
from tests.support.problems import lines

A = "CustomerAlert acme/acme-higherrorrate: "


def with_tests(*tests: dict[str, Any]) -> dict[str, Any]:
    return alert(tests=list(tests))


def one(
    series: str = 'errors_total{service="a"}', values: str = "0+60x10", **check: Any
) -> dict[str, Any]:
    return {
        "inputSeries": [{"series": series, "values": values}],
        "alertRuleTests": [{"evalTime": "10m", **check}],
    }


def test_a_bounded_test_of_own_series_passes_the_checks() -> None:
    assert lines(with_tests(one(), one('errors_total{customer_id="acme"}'))) == []


REFUSALS = [
    (
        "foreign-series",
        with_tests(one('errors_total{customer_id="globex"}')),
        'spec.tests[0].inputSeries[0].series: customer_id "globex" is another customer\'s; '
        "a test of customer acme uses only its own series (leave customer_id out: it is added)",
    ),
    (
        "matched-series",
        with_tests(one('errors_total{customer_id=~".+"}')),
        "spec.tests[0].inputSeries[0].series: label customer_id is matched, not given; "
        'write customer_id="..."',
    ),
    (
        "not-a-series",
        with_tests(one("rate(errors_total[5m])")),
        'spec.tests[0].inputSeries[0].series: not a series; write it as metric{label="value", ...}',
    ),
    (
        "offset-series",
        with_tests(one("errors_total offset 5m")),
        'spec.tests[0].inputSeries[0].series: not a series; write it as metric{label="value", ...}',
    ),
    (
        "broken-series",
        with_tests(one("errors_total{")),
        "spec.tests[0].inputSeries[0].series: not a series: unexpected end of "
        "input inside braces; "
        'write it as metric{label="value", ...}',
    ),
    (
        "huge-repeat",
        with_tests(one(values="0+1x99999999999")),
        "spec.tests[0].inputSeries[0].values: a repeat count makes more than 10000 samples; "
        "the input series of an alert's tests hold at most 10000 samples in all",
    ),
    (
        "too-many-samples",
        with_tests(*[one(values="0+1x2000") for _ in range(5)]),
        "spec.tests: the input series hold 10005 samples: at most 10000; test with fewer or "
        "shorter series (e.g. '0+1x60' is 61 samples)",
    ),
    (
        "eval-too-late",
        with_tests({**one(), "alertRuleTests": [{"evalTime": "8d"}]}),
        "spec.tests: the tests evaluate 192h in all (each up to its latest evalTime): at most "
        "1d; test shorter spans, or fewer tests",
    ),
    (
        "evaluations-add-up",
        with_tests(*[one() | {"alertRuleTests": [{"evalTime": "5h"}, {"evalTime": "1m"}]}] * 5),
        "spec.tests: the tests evaluate 25h in all (each up to its latest evalTime): at most "
        "1d; test shorter spans, or fewer tests",
    ),
    (
        "interval-too-short",
        with_tests({**one(), "interval": "10ms"}),
        "spec.tests[0].interval: 10ms is shorter than 1s; use 1s or more",
    ),
    (
        "too-many-tests",
        with_tests(*[one() for _ in range(9)]),
        "spec.tests: too many items (9): at most 8; remove some items",
    ),
    (
        "no-series",
        with_tests({"inputSeries": [], "alertRuleTests": [{"evalTime": "1m"}]}),
        "spec.tests[0].inputSeries: must not be empty; give at least one value",
    ),
    (
        "snake-case",
        with_tests({"input_series": [], "alertRuleTests": [{"evalTime": "1m"}]}),
        "spec.tests[0].input_series: unknown field; did you mean inputSeries?",
    ),
]


@pytest.mark.parametrize(
    ("doc", "expected"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_refusal(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc) == [A + expected]


@pytest.mark.parametrize(
    ("values", "count"),
    [("1", 1), ("1 2 3", 3), ("0+10x5", 6), ("_x3 stale", 5), ("1x0", 1), ("0-1x10000", 10001)],
)
def test_sample_count(values: str, count: int) -> None:
    assert sample_count(values) == count


def test_own_series_adds_the_tenant_and_keeps_the_rest() -> None:
    assert own_series('up{job="a\\"b"}', "acme") == 'up{customer_id="acme", job="a\\"b"}'
    assert own_series('{__name__="up"}', "acme") == '{__name__="up", customer_id="acme"}'


def test_the_test_file_is_promtools_shape_for_this_alert_only() -> None:
    check = {"evalTime": "10m", "expAlerts": [{"expLabels": {"service": "a"}}]}
    spec = obj(with_tests(one() | {"alertRuleTests": [check]})).spec
    assert isinstance(spec, type(spec))
    (text,) = promtool_test_files(spec, "r.yml")  # type: ignore[arg-type]
    assert yaml.safe_load(text) == {
        "rule_files": ["r.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'errors_total{customer_id="acme", service="a"}', "values": "0+60x10"}
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "HighErrorRate",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "category": "application",
                                    "customer_id": "acme",
                                    "severity": "critical",
                                    "service": "a",
                                },
                                "exp_annotations": {},
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_a_model_without_tests_has_an_empty_list() -> None:
    parsed = obj(alert())
    assert isinstance(parsed, CustomerAlert) and parsed.spec.tests == []

"""The comparison of sinks/loaded.py held to what the real Prometheus 2.42 and Alertmanager
0.25 print: every query form and every integration they re-print their own way is the
same, a change of one is a difference.

The queries are written the way people write them, not the way Prometheus prints them
(matchers unsorted, `by` after the aggregation, `90m`, `0.10`, hex, single quotes,
comments); the Alertmanager configuration is `alertplane render` of examples/customers
(e-mail, Slack, PagerDuty and webhook receivers, secrets as files and inline).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertplane.render.yamlout import dump
from alertplane.sinks.loaded import LOCAL, routes_stale, routing, rules_stale
from alertplane.sinks.loaded_query import formatted_query, loaded_config, loaded_rules
from tests.support.paths import EXAMPLES
from tests.support.processes import Alertmanager, Prometheus

A = 'customer_id="acme"'
QUERIES = [
    f'sum(rate(x{{{A}, code=~"5.."}}[5m])) by (job) > 0.10',
    f"sum without (instance) (x{{{A}}})",
    f"x{{{A}}} offset 5m",
    f"x{{{A}}} offset -1h",
    f"x{{{A}}} @ start()",
    f"rate(x{{{A}}}[90m])",
    f"max_over_time(x{{{A}}}[1h:5m])",
    f"holt_winters(x{{{A}}}[600s], 0.5, 0.5)",  # alertplane's parser knows a newer name
    f"-x{{{A}}} > -1e3",
    f"x{{{A}}} > bool 0x10",
    f"x{{{A}}} / on (job) group_left (team) y{{{A}}}",
    f'label_replace(x{{{A}}}, "a", "$1", "b", "(.*)")',
    f"topk(3, x{{{A}}}) and ignoring (a) y{{{A}}}",
    f'count_values("v", x{{{A}}})',
    f'absent(x{{{A}, job=~"a|b"}})',
    f'{{__name__=~"foo.*", {A}}}',
    'x{customer_id=\'acme\', a="\\n\\"q"}',
    f"(x{{{A}}} + 1) * 2 unless vector(1)",
    f"sum by (a) (x{{{A}}})  # the comment goes\n  > 1",
    f"x{{{A}}}[1d] ",
]


def _rules(queries: list[str]) -> str:
    rules = [
        {"alert": f"A{i}", "expr": q, "for": "90s", "labels": {"customer_id": "acme"}}
        for i, q in enumerate(queries)
    ]
    return dump({"groups": [{"name": "acme-application", "rules": rules}]})


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    rules = tmp_path_factory.mktemp("rules")
    (rules / "acme.yml").write_text(_rules(QUERIES), encoding="utf-8")
    with Prometheus(rules) as prom:
        yield prom


def test_every_query_form_is_the_one_prometheus_loaded(prometheus: Prometheus) -> None:
    loaded = loaded_rules(prometheus.url)
    asked: list[str] = []

    def remote(query: str) -> str | None:
        asked.append(query)
        return formatted_query(prometheus.url, query)

    assert rules_stale("acme", _rules(QUERIES), loaded, (*LOCAL, remote)) is None
    # Prometheus is asked only where alertplane's printer says otherwise.
    assert asked == [QUERIES[7]]
    assert rules_stale("acme", _rules(QUERIES), loaded, LOCAL) is not None


@pytest.mark.parametrize("i", range(len(QUERIES)))
def test_a_changed_query_is_a_difference(prometheus: Prometheus, i: int) -> None:
    changed = [*QUERIES]
    changed[i] = f"({QUERIES[i].split('#')[0]}) > 42"
    remote = (*LOCAL, lambda query: formatted_query(prometheus.url, query))
    stale = rules_stale("acme", _rules(changed), loaded_rules(prometheus.url), remote)
    assert (
        stale is not None
        and stale.detail == f"group acme-application: rule A{i}: the query differs"
    )


def test_every_customer_route_is_the_one_alertmanager_loaded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        ["alertplane", "render", "-f", str(EXAMPLES / "customers"),
         "--platform-config", str(EXAMPLES / "platform.yaml"), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = (out / "alertmanager.yml").read_text(encoding="utf-8")
    with Alertmanager(out / "alertmanager.yml") as am:
        printed = loaded_config(am.url)
    assert printed != written  # re-printed: defaults, order, secrets
    customers = sorted(routing(written).routes)
    assert customers == ["acme", "globex", "initech"]
    for cid in customers:
        assert routes_stale(cid, routing(written), routing(printed)) is None, cid
    globex = written.replace('channel: "#globex-alerts"', 'channel: "#globex"')
    stale = routes_stale("globex", routing(globex), routing(printed))
    assert stale is not None
    assert stale.detail == "receiver globex/catch-all.slack_configs[0].channel differs"
    assert routes_stale("acme", routing(globex), routing(printed)) is None  # others live
    assert json.dumps(routing(printed).receivers["globex/catch-all"]).count("<secret>") == 1

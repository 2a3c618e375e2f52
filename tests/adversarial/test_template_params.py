"""A hostile customer against the catalogue and spec.tests: parameter values built to break
out of their literal (hypothesis over every parameter of every shipped template, through
the one admission path every door calls) and rule tests built to read another customer's
series or to starve promtool.

Parameters: whatever the value, the alert is either refused with a problem at that
parameter's path, or admitted with an expression that passes the isolation check, whose
selectors are exactly the template's (same metric names, same label names) and carry
customer_id="acme" — so a value can change numbers, durations and label *values*, never
what the expression selects or for whom.
"""

from __future__ import annotations

import copy
from typing import Any

import promql_parser as pp
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.admission import WRITE, admit
from alertplane.manifests import load_text
from alertplane.model import CustomerAlert
from alertplane.render.platform import load_platform_config
from alertplane.validate import promql
from tests.support.factories import DROP, alert
from tests.support.paths import EXAMPLES

CATALOGUE = load_platform_config(str(EXAMPLES / "platform-templates.yaml"))
PARAMS = [(t.name, p.name) for t in CATALOGUE.alert_templates for p in t.params]
BASE = {"absent-target": {"job": "api"}}

# Pieces of PromQL and of quoting an attacker would splice together.
PIECES = ['"', "\\", "}", "{", ")", "(", "]", "[", ",", " or ", "vector(1)", 'customer_id="globex"',
          "up", "=~", "!=", "=", "\n", "#", "$", "${x}", "5m", "0.1", "1e9", "-", "offset 1h",
          "@ end()", "`", "'"]  # fmt: skip
HOSTILE = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=8).map("".join)


def _admitted(template: str, params: dict[str, str]) -> tuple[CustomerAlert | None, list[str]]:
    doc = alert(expr=DROP, annotations=DROP, template={"name": template, "params": params})
    loaded = load_text(yaml.safe_dump(doc), "t.yaml")
    if loaded.problems:
        return None, ["yaml"]
    result = admit(loaded.documents, WRITE, CATALOGUE)
    if result.refused:
        return None, sorted({p.path for p in result.refused})
    (item,) = result.parsed
    assert isinstance(item.obj, CustomerAlert)
    return item.obj, []


def _selectors(expr: str) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    tree = promql.parse(expr)
    out = []
    for node in promql._walk(tree):
        if isinstance(node, pp.VectorSelector):
            matchers = list(node.matchers.matchers)
            tenant = [(m.name, m.value) for m in matchers if m.name == "customer_id"]
            out.append((str(node.name), sorted(m.name for m in matchers), tenant))
    return out


def _reference(template: str, param: str) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    # The shape with a harmless value for this parameter (a selector's own label names vary).
    value = {"selector": 'job="x"', "job": "x"}.get(param)
    params = {**BASE.get(template, {}), **({param: value} if value else {})}
    obj, problems = _admitted(template, params)
    assert obj is not None and obj.spec.expr is not None, problems
    return _selectors(obj.spec.expr)


@pytest.mark.parametrize(("template", "param"), PARAMS, ids=[f"{t}.{p}" for t, p in PARAMS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE)
def test_a_param_never_widens_the_expression(template: str, param: str, value: str) -> None:
    obj, problems = _admitted(template, {**BASE.get(template, {}), param: value})
    if obj is None:
        assert problems in (["yaml"], [f"spec.template.params.{param}"]), problems
        return
    assert obj.spec.expr is not None
    assert promql.check_expr(obj.spec.expr, "acme") == []
    got = _selectors(obj.spec.expr)
    want = _reference(template, param)
    assert [(n, t) for n, _, t in got] == [(n, t) for n, _, t in want]
    for name, labels, tenant in got:
        assert tenant == [("customer_id", "acme")], (name, obj.spec.expr)
        if param != "selector":
            assert labels in [w[1] for w in want]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=HOSTILE)
def test_a_rule_test_never_holds_another_customers_series(series: str) -> None:
    from alertplane.validate.ruletests import own_series

    found = own_series(series, "acme")
    if not isinstance(found, str):
        return  # refused, with a message
    tree = promql.parse(found)
    assert isinstance(tree, pp.VectorSelector)
    tenant = [m.value for m in tree.matchers.matchers if m.name == "customer_id"]
    assert tenant == ["acme"]


def test_starving_promtool_is_refused_up_front() -> None:
    series = [{"series": f'x{{i="{i}"}}', "values": "0+1x9999"} for i in range(32)]
    tests = [{"interval": "1s", "inputSeries": series, "alertRuleTests": [{"evalTime": "1d"}]}] * 8
    doc: dict[str, Any] = alert(tests=tests)
    loaded = load_text(yaml.dump(doc, Dumper=_NoAliases), "t.yaml")
    result = admit(loaded.documents, WRITE, CATALOGUE)
    assert sorted({p.path for p in result.refused}) == ["spec.tests"]
    assert [p.message for p in result.refused] == [
        "the input series hold 2560000 samples: at most 10000",
        "the tests evaluate 192h in all (each up to its latest evalTime): at most 1d",
    ]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# -- the CRD on the real API server (conftest's crd_kube: dry runs only) ----------------------


@pytest.fixture
def kube_crds(crd_kube: Any) -> Any:
    return crd_kube


def _crd_alert(**spec: Any) -> dict[str, Any]:
    from tests.support.crds import ALERT

    obj: dict[str, Any] = copy.deepcopy(ALERT)
    obj["spec"].update(spec)
    return {**obj, "spec": {k: v for k, v in obj["spec"].items() if v is not None}}


def test_the_crd_takes_a_template_and_refuses_neither(kube_crds: Any) -> None:
    from tests.adversarial.crd_server import dry_run

    params = {"selector": 'job="api"', "threshold": "0.1"}
    code, out = dry_run(
        kube_crds, _crd_alert(expr=None, template={"name": "error-ratio", "params": params})
    )
    assert code == 0, out
    code, out = dry_run(kube_crds, _crd_alert(expr=None))
    assert code != 0 and "one of expr or template is required" in out, out
    # Params are text in the CRD (a number must be quoted there; the CLI/API take numbers).
    code, out = dry_run(
        kube_crds, _crd_alert(expr=None, template={"name": "e", "params": {"t": 0.1}})
    )
    assert code != 0 and "spec.template.params.t" in out, out
    tests = [
        {"inputSeries": [{"series": "up", "values": "1"}], "alertRuleTests": [{"evalTime": "1m"}]}
    ]
    assert dry_run(kube_crds, _crd_alert(tests=tests))[0] == 0
    code, out = dry_run(kube_crds, _crd_alert(tests=tests * 9))
    assert code != 0 and "spec.tests" in out, out

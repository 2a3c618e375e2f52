"""`autoInject: true`: admission adds the tenant matcher where it is missing (the importer's
injector) before the isolation check; what it cannot isolate is refused as without it."""

from __future__ import annotations

import pytest
import yaml

from alertplane.core import evaluate, render_valid
from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.render.platform import PlatformConfig
from tests.support.factories import alert

SOURCE = Source("t.yaml", 1)


def outcome(expr: str, auto: bool | None):
    extra = {} if auto is None else {"autoInject": auto}
    return evaluate([Document(SOURCE, alert(expr=expr, **extra))], tools=False)


def test_the_matcher_is_added_checked_and_rendered() -> None:
    done = outcome("sum(rate(errors_total[5m])) > 1 # spaces  kept", True)
    assert done.ok, [str(p) for p in done.problems]
    (obj,) = done.valid
    assert obj.spec.expr == 'sum(rate(errors_total{customer_id="acme"}[5m])) > 1 # spaces  kept'
    rules = render_valid(done, PlatformConfig.model_validate({})).rules["rules/acme.yml"]
    (rule,) = yaml.safe_load(rules)["groups"][0]["rules"]
    assert rule["expr"] == obj.spec.expr


@pytest.mark.parametrize("auto", [False, None])
def test_without_it_the_missing_matcher_is_refused(auto: bool | None) -> None:
    (problem,) = outcome("rate(errors_total[5m]) > 1", auto).problems
    assert problem.message == 'selector errors_total{} has no customer_id="acme" matcher'


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('up{customer_id="globex"}', 'selector up{customer_id="globex"} selects customer "globex"'),
        ('up{customer_id=~".*"}', 'selector up{customer_id=~".*"} matches customer_id with =~'),
        ("vector(1)", "expression selects no series, so it cannot be tied to this customer"),
    ],
)
def test_it_never_widens_what_an_alert_may_select(expr: str, message: str) -> None:
    problems = outcome(expr, True).problems
    assert [p.message for p in problems] == [message]

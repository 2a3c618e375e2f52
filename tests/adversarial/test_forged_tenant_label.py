"""An alert cannot hand its notifications to another customer by forging `customer_id`
in its result (`label_replace`, `label_join`, `count_values`): the isolation check lets
these through (every selector is the customer's own), and the rendered rule's own
`customer_id` label, which Prometheus puts over the result's labels, routes the alert
back to its owner, through every door (autoInject included)."""

from __future__ import annotations

import pytest
import yaml

from alertplane.admission import RECONCILE, admit
from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.model import CustomerAlert
from alertplane.render.rules import render_rules
from tests.support.factories import alert


@pytest.mark.parametrize(
    "expr",
    [
        'label_replace(up, "customer_id", "globex", "", "")',
        'label_join(up, "customer_id", "", "job")',
        'count_values("customer_id", up)',
        'sum by (customer_id) (label_replace(up, "customer_id", "globex", "", ""))',
    ],
)
def test_the_rule_label_routes_a_forged_tenant_back_to_its_owner(expr: str) -> None:
    manifest = alert("acme", expr=expr, autoInject=True)
    admission = admit([Document(Source("<t>", 1), manifest)], RECONCILE.with_tools(False))
    assert admission.problems == []
    [obj] = admission.admitted
    assert isinstance(obj, CustomerAlert) and 'customer_id="acme"' in obj.spec.expr
    rendered = render_rules("acme", [obj.spec])
    assert rendered is not None
    [rule] = yaml.safe_load(rendered)["groups"][0]["rules"]
    assert rule["labels"]["customer_id"] == "acme"

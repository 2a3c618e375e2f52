"""The prometheus-operator translation (render/promop.py), pure, against the objects the
operator e2e test stores as goldens (tests/golden/operator/prometheus-operator/).

The e2e test proves that the operator writes exactly these objects into a real API server;
this one proves that the pure translation alone produces their content from the examples
and the example platform config, with no cluster, so a change in rendering shows here first.
`make golden-update` (pytest --update-golden) leaves these files to the e2e test.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_paths
from alertplane.model import CustomerAlert, CustomerReceiver, CustomerReceiverSpec
from alertplane.render.platform import load_platform_config
from alertplane.render.promop import (
    alertmanager_config,
    object_name,
    prometheus_rule_spec,
    secrets_platform,
)
from alertplane.render.rules import render_rules
from tests.support.paths import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden" / "operator" / "prometheus-operator"


def _golden(kind: str, name: str) -> dict[str, Any] | None:
    path = GOLDEN / kind / f"{name}.yaml"
    if not path.is_file():
        return None
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _examples() -> tuple[dict[str, list[Any]], dict[str, list[tuple[str, CustomerReceiverSpec]]]]:
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    loaded = load_paths([str(EXAMPLES / "customers")])
    assert not loaded.problems
    outcome = evaluate(loaded.documents, platform, tools=False)
    assert outcome.ok
    alerts: dict[str, list[Any]] = {}
    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for obj in outcome.valid:
        cid = obj.spec.customer_id
        if isinstance(obj, CustomerAlert):
            alerts.setdefault(cid, []).append(obj.spec)
        elif isinstance(obj, CustomerReceiver):
            receivers.setdefault(cid, []).append((obj.metadata.namespace, obj.spec))
    return alerts, receivers


ALERTS, RECEIVERS = _examples()
CUSTOMERS = sorted(set(ALERTS) | set(RECEIVERS))


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_prometheus_rule_matches_the_golden(customer: str) -> None:
    text = render_rules(customer, ALERTS.get(customer, []))
    golden = _golden("prometheusrules", object_name(customer))
    if text is None:
        assert golden is None
        return
    assert golden is not None
    assert prometheus_rule_spec(text) == golden["spec"]


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_alertmanager_config_and_secret_match_the_golden(customer: str) -> None:
    platform = secrets_platform(load_platform_config(str(EXAMPLES / "platform.yaml")))
    spec, keys = alertmanager_config(customer, RECEIVERS.get(customer, []), platform)
    golden = _golden("alertmanagerconfigs", object_name(customer))
    assert golden is not None
    assert spec == golden["spec"]
    secret = _golden("secrets", object_name(customer))
    assert sorted(keys) == (secret["dataKeys"] if secret is not None else [])


def test_every_golden_object_is_covered() -> None:
    names = {object_name(c) for c in CUSTOMERS}
    stored = {p.stem for p in GOLDEN.glob("*/*.yaml")}
    assert stored and stored <= names, sorted(stored - names)

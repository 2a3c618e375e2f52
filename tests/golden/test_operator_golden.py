"""Golden files of the prometheus-operator sink, and what the real tools say about them.

tests/golden/operator/prometheus-operator/ holds the objects the sink writes for the
examples with the example platform config: PrometheusRules, AlertmanagerConfigs (the
customers' and the base configuration `alertplane.platform`) and their Secrets (key
names only, never values). Rendered here by the pure translation (render/promop.py);
`make golden-update` (pytest --update-golden) rewrites them, and the operator e2e test
(tests/e2e/test_operator.py) compares what the operator wrote into a real API server
with the same files.

Read back from disk (independently of the renderer), the AlertmanagerConfigs are merged
the way prometheus-operator v0.85.0 merges them (tests/golden/operator_merge.py) into one
Alertmanager configuration that must pass `amtool check-config` and must route every
customer × severity × category, and unknown customers, exactly like `alertplane render`'s
own alertmanager.yml (receiver names normalized).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_paths
from alertplane.model import CustomerAlert, CustomerReceiver, CustomerReceiverSpec
from alertplane.model.alert import Category, Severity
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import load_platform_config
from alertplane.render.promop import (
    BASE_NAME,
    alertmanager_config,
    object_name,
    platform_config,
    prometheus_rule_spec,
    secrets_platform,
)
from alertplane.render.rules import render_rules
from alertplane.render.yamlout import dump
from alertplane.validate import tools
from tests.golden.operator_merge import merged_config, normalize
from tests.support.paths import EXAMPLES, ROOT
from tests.support.routes_util import amtool_routes

GOLDEN = ROOT / "tests" / "golden" / "operator" / "prometheus-operator"
NAMESPACE = "monitoring"  # the operator e2e test's sink namespace
MANAGED = {"app.kubernetes.io/managed-by": "alertplane"}
KINDS = {
    "prometheusrules": ("monitoring.coreos.com/v1", "PrometheusRule"),
    "alertmanagerconfigs": ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
    "secrets": ("v1", "Secret"),
}

Receivers = dict[str, list[tuple[str, CustomerReceiverSpec]]]


def _examples() -> tuple[dict[str, list[Any]], Receivers]:
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    loaded = load_paths([str(EXAMPLES / "customers")])
    assert not loaded.problems
    outcome = evaluate(loaded.documents, platform, tools=False)
    assert outcome.ok
    alerts: dict[str, list[Any]] = {}
    receivers: Receivers = {}
    for obj in outcome.valid:
        cid = obj.spec.customer_id
        if isinstance(obj, CustomerAlert):
            alerts.setdefault(cid, []).append(obj.spec)
        elif isinstance(obj, CustomerReceiver):
            receivers.setdefault(cid, []).append((obj.metadata.namespace, obj.spec))
    return alerts, receivers


def _sorted(value: Any) -> Any:
    """`value` with mapping keys in order, as the API server returns a custom object."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _object(plural: str, name: str, labels: dict[str, str], **content: Any) -> tuple[str, str]:
    """One golden file, in the form tests/e2e/test_operator.py `owned` reads objects."""
    api_version, kind = KINDS[plural]
    body = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": dict(sorted(labels.items()))},
        **_sorted(content),
    }
    return f"{plural}/{name}.yaml", dump(body)


def rendered_objects() -> dict[str, str]:
    """Every object the sink writes for the examples, as golden files."""
    platform = secrets_platform(load_platform_config(str(EXAMPLES / "platform.yaml")))
    alerts, receivers = _examples()
    out: dict[str, str] = {}
    base, base_keys = platform_config(platform)
    for rel, text in [
        _object("alertmanagerconfigs", BASE_NAME, MANAGED, spec=base),
        *(
            [_object("secrets", BASE_NAME, MANAGED, dataKeys=sorted(base_keys))]
            if base_keys
            else []
        ),
    ]:
        out[rel] = text
    for cid in sorted(set(alerts) | set(receivers)):
        name, labels = object_name(cid), {**MANAGED, "alertplane.io/customer": cid}
        text = render_rules(cid, alerts.get(cid, []))
        if text is not None:
            rel, body = _object(
                "prometheusrules", name, {**labels, "alertplane.io/rules": "true"},
                spec=prometheus_rule_spec(text),
            )  # fmt: skip
            out[rel] = body
        spec, keys = alertmanager_config(cid, receivers.get(cid, []), platform)
        rel, body = _object(
            "alertmanagerconfigs", name, {**labels, "alertplane.io/alertmanager": "true"}, spec=spec
        )
        out[rel] = body
        if keys:
            rel, body = _object("secrets", name, labels, dataKeys=sorted(keys))
            out[rel] = body
    return out


def test_objects_match_the_golden(update_golden: bool) -> None:
    actual = rendered_objects()
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in actual.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
        return
    expected = {str(p.relative_to(GOLDEN)): p.read_text() for p in sorted(GOLDEN.rglob("*.yaml"))}
    assert sorted(actual) == sorted(expected), "objects differ from the golden set"
    for rel, text in expected.items():
        assert actual[rel] == text, f"{rel} differs (make golden-update, review the diff)"


# -- read back from disk: what prometheus-operator would make of them --------------------
def _load(plural: str) -> dict[str, dict[str, Any]]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((GOLDEN / plural).glob("*.yaml"))
    }


def _placeholder(name: str, key: str) -> str:
    """A Secret value (the goldens hold key names only): URL-shaped where one must be."""
    secrets = _load("secrets")
    assert key in secrets[name]["dataKeys"], f"{name} has no key {key}: PO would refuse it"
    return f"https://secret.example/{name}/{key}"


def _merged() -> dict[str, Any]:
    amcs = _load("alertmanagerconfigs")
    base = amcs.pop(BASE_NAME)
    assert base["metadata"]["labels"] == MANAGED  # never selected as a customer route
    for name, obj in amcs.items():
        assert obj["metadata"]["labels"]["alertplane.io/alertmanager"] == "true", name
    customers = {name: obj["spec"] for name, obj in amcs.items()}
    return merged_config(NAMESPACE, (BASE_NAME, base["spec"]), customers, _placeholder)


def test_merged_configuration_passes_amtool(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yaml"
    config.write_text(dump(_merged()), encoding="utf-8")
    result = tools.check_config(config)
    assert result.ok, result.output
    assert "SUCCESS" in result.output


def _label_sets(customers: list[str]) -> list[dict[str, str]]:
    out = [{"severity": "critical"}]  # no customer_id at all
    for cid in [*customers, "unknown-co"]:
        for severity in Severity:
            for category in Category:
                labels = {"customer_id": cid, "severity": severity.value}
                out.append({**labels, "category": category.value})
                out.append({**labels, "category": category.value, "team": "dispatch"})
    return out


def test_merged_configuration_routes_exactly_like_render(tmp_path: Path) -> None:
    """Every customer × severity × category (with and without the examples' label
    matchers) and unknown customers reach the same receivers through the
    prometheus-operator configuration as through `alertplane render`'s: no customer
    route falls through into another's or into the platform's."""
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    _, receivers = _examples()
    rendered = tmp_path / "rendered.yml"
    rendered.write_text(render_alertmanager(receivers, platform), encoding="utf-8")
    config = tmp_path / "alertmanager.yaml"
    config.write_text(dump(_merged()), encoding="utf-8")
    label_sets = _label_sets(sorted(receivers))
    expected = amtool_routes(rendered, label_sets, workers=2)
    actual = amtool_routes(config, label_sets, workers=2)
    normalized = [[normalize(r, NAMESPACE) for r in found] for found in actual]
    mismatches = [
        (labels, want, got)
        for labels, want, got in zip(label_sets, expected, normalized, strict=True)
        if want != got
    ]
    assert not mismatches, mismatches[:5]
    assert any(len(found) > 1 for found in expected)  # the examples exercise `continue`
    assert {"platform-default"} < {r for found in normalized for r in found}

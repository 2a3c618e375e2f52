"""spec.tests with the real promtool, and templates end to end: what fires, for whom, and
what the reconciler makes of a failing test or a last valid version.

- A failing test is pinned on its alert and test with promtool's own words, also when many
  tests of many alerts run in one promtool process.
- The reconciler marks an alert with a failing test Invalid (its last valid version stays
  live); a last valid version is rendered as admission takes it (autoInject applied, the
  template instantiated), never as the cluster holds it.
- Every shipped template, instantiated with its defaults, passes promtool and fires on the
  customer's own series only while another customer's identical series are present.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.model import CustomerAlert
from alertplane.render import render
from alertplane.render.platform import load_platform_config
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import Reconciler, SyncSettings
from alertplane.validate import tools
from tests.support.factories import DROP, alert, obj
from tests.support.paths import EXAMPLES
from tests.support.problems import lines

CATALOGUE = load_platform_config(str(EXAMPLES / "platform-templates.yaml"))
HINT = "fix the test or the alert; the test runs with promtool test rules (Prometheus 2.42)"


def firing_test(eval_time: str = "10m", **expected: str) -> dict[str, Any]:
    return {
        "inputSeries": [
            {"series": 'errors_total{service="a"}', "values": "0+120x20"},
            {"series": 'errors_total{service="b"}', "values": "0x20"},
        ],
        "alertRuleTests": [
            {
                "evalTime": eval_time,
                "expAlerts": [
                    {
                        "expLabels": {"service": "a", **expected},
                        "expAnnotations": {"summary": "a fails"},
                    }
                ],
            }
        ],
    }


def test_a_passing_test_passes() -> None:
    assert lines(alert(tests=[firing_test()]), tools=True) == []


def test_a_failing_test_names_the_test_and_says_what_promtool_says() -> None:
    failing = firing_test(service="b")
    got = lines(alert(tests=[firing_test(), failing]), tools=True)
    assert got == [
        "CustomerAlert acme/acme-higherrorrate: spec.tests[1]: the test fails: alertname: "
        'HighErrorRate, time: 10m, exp:[ 0: Labels:{alertname="HighErrorRate", '
        'category="application", customer_id="acme", service="b", '
        'severity="critical"} Annotations:{summary="a fails"} ], got:[ 0: '
        'Labels:{alertname="HighErrorRate", category="application", customer_id="acme", '
        'service="a", severity="critical"} Annotations:{summary="a fails"} ]; ' + HINT
    ]


def test_a_broken_values_notation_is_promtools_message() -> None:
    test = firing_test()
    test["inputSeries"][0]["values"] = "0 1 x"
    # promtool's position is within the load command it builds from the series.
    assert lines(alert(tests=[test]), tools=True) == [
        "CustomerAlert acme/acme-higherrorrate: spec.tests[0]: the test fails: 1:51: parse "
        'error: unexpected "x"; ' + HINT
    ]


def test_many_alerts_in_one_run_each_get_their_own_verdict() -> None:
    docs = []
    for i in range(12):
        fail = i % 3 == 0
        test = firing_test(eval_time="10m")
        if fail:
            test["alertRuleTests"][0]["expAlerts"][0]["expAnnotations"] = {"summary": f"n{i}"}
        docs.append(alert(f"c{i}", tests=[test]))
    got = lines(*docs, tools=True)
    assert [line.split(":")[0] for line in got] == [
        f"CustomerAlert c{i}/c{i}-higherrorrate" for i in range(0, 12, 3)
    ]
    for i, line in zip(range(0, 12, 3), got, strict=True):
        assert f'Annotations:{{summary="n{i}"}} ], got:[' in line
        assert line.startswith(
            f"CustomerAlert c{i}/c{i}-higherrorrate: spec.tests[0]: the test fails"
        )


def test_the_test_sees_only_this_alert_not_its_customers_others() -> None:
    # Another alert of acme fires on the same series: it is not in this alert's test.
    other = alert(name="Other", expr='errors_total{customer_id="acme"} > 0')
    assert lines(alert(tests=[firing_test()]), other, tools=True) == []


def test_a_worst_case_object_is_checked_in_one_bounded_run() -> None:
    series = [{"series": f'errors_total{{service="s{i}"}}', "values": "0+1x311"} for i in range(32)]
    checks = [{"evalTime": "1d"} for _ in range(16)]
    tests = [{"interval": "1s", "inputSeries": series, "alertRuleTests": checks}]
    doc = alert(expr='rate(errors_total{customer_id="acme"}[5m]) > 1e9', tests=tests)
    assert lines(doc, tools=True) == []  # 9,984 samples, a day of 1m evaluations


def test_a_failing_verdict_is_kept_for_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    failing = alert(tests=[firing_test(service="b")])
    first = lines(failing, tools=True)
    assert len(first) == 1 and "spec.tests[0]: the test fails" in first[0]

    def no_promtool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("promtool ran again for the same test")

    monkeypatch.setattr(tools, "run", no_promtool)
    assert lines(failing, tools=True) == first


# -- templates -------------------------------------------------------------------------------

SELECTOR = {
    "error-ratio": 'job="api"',
    "latency-quantile": 'job="api"',
    "saturation": 'instance="n1"',
    "certificate-expiry": 'instance="https://x"',
}
# Series that make each template fire with its defaults (both customers get the same).
FIRING = {
    "error-ratio": [
        ('http_requests_total{job="api", code="500"}', "0+60x30"),
        ('http_requests_total{job="api", code="200"}', "0+60x30"),
    ],
    "latency-quantile": [
        ('http_request_duration_seconds_bucket{job="api", le="0.1"}', "0x30"),
        ('http_request_duration_seconds_bucket{job="api", le="1"}', "0x30"),
        ('http_request_duration_seconds_bucket{job="api", le="+Inf"}', "0+60x30"),
    ],
    "saturation": [('node_cpu_seconds_total{instance="n1", mode="idle"}', "0x30")],
    "absent-target": [],
    "certificate-expiry": [('probe_ssl_earliest_cert_expiry{instance="https://x"}', "86400x30")],
}


def _templated(name: str, customer: str) -> dict[str, Any]:
    params = {"job": "api"} if name == "absent-target" else {"selector": SELECTOR[name]}
    return alert(customer, expr=DROP, annotations=DROP, template={"name": name, "params": params})


def _admitted(*docs: dict[str, Any]) -> list[CustomerAlert]:
    loaded = load_text(yaml.safe_dump_all(list(docs)), "t.yaml")
    outcome = evaluate(loaded.documents, CATALOGUE, tools=True)
    assert outcome.problems == []
    return [p.obj for p in outcome.parsed if isinstance(p.obj, CustomerAlert)]


@pytest.mark.parametrize("name", sorted(FIRING))
def test_every_shipped_template_fires_for_its_customer_only(name: str, tmp_path: Path) -> None:
    alerts = _admitted(_templated(name, "acme"))
    rendered = render(alerts, CATALOGUE)
    (tmp_path / "acme.yml").write_text(rendered.rules["rules/acme.yml"])
    series = []
    for customer in ("acme", "globex"):
        for text, values in FIRING[name]:
            series.append(
                {"series": text.replace("{", f'{{customer_id="{customer}", '), "values": values}
            )
    if name == "absent-target":  # globex has the target, acme has none
        series.append({"series": 'up{customer_id="globex", job="api"}', "values": "1x30"})
    test = {
        "rule_files": ["acme.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "29m", "alertname": "HighErrorRate", "exp_alerts": []}
                ],
            }
        ],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(test))
    result = tools.run("promtool", ["test", "rules", "t.yml"], cwd=tmp_path)
    assert not result.ok  # it fires: the empty expectation fails
    got = result.output
    assert 'customer_id="acme"' in got and 'customer_id="globex"' not in got, got
    # exactly one alert, acme's
    assert got.count("Labels:{") == 1, got


def _store(tmp_path: Path) -> Store:
    return Store(open_db(f"sqlite:///{tmp_path / 'a.db'}"), secrets_dir=str(tmp_path / "s"))


def _rules(out: Path, customer: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((out / "rules" / f"{customer}.yml").read_text())
    return [r for g in data["groups"] for r in g["rules"]]


def _status(store: Store, name: str) -> dict[str, Any]:
    (found,) = [s for s in store.get() if s.name == name]
    return found.manifest()["status"]


def test_the_reconciler_marks_a_failing_test_invalid_and_keeps_the_last_good(
    tmp_path: Path,
) -> None:
    store, out = _store(tmp_path), tmp_path / "out"
    rec = Reconciler(store, SyncSettings(out_dir=out, coalesce_s=0.2, poll_s=0.02))
    store.apply([obj(alert(tests=[firing_test()]))], "a", "cli")
    rec.sync_all()
    assert _status(store, "acme-higherrorrate")["phase"] == "Synced"
    store.apply(
        [obj(alert(expr='rate(errors_total{customer_id="acme"}[5m]) > 5', tests=[firing_test()]))],
        "a",
        "cli",
    )
    rec.sync({"acme"})
    st = _status(store, "acme-higherrorrate")
    assert st["phase"] == "Invalid"
    assert st["conditions"][0]["message"].startswith(
        "spec.tests[0]: the test fails: alertname: HighErrorRate, time: 10m, exp:[ 0: "
    )
    assert st["conditions"][0]["message"].endswith("got:[]; " + HINT)
    assert _rules(out, "acme")[0]["expr"] == 'rate(errors_total{customer_id="acme"}[5m]) > 1'


def test_a_templated_alert_renders_and_follows_the_platforms_template(tmp_path: Path) -> None:
    store, out = _store(tmp_path), tmp_path / "out"
    settings = SyncSettings(out_dir=out, coalesce_s=0.2, poll_s=0.02, platform=CATALOGUE)
    store.apply([obj(_templated("saturation", "acme"))], "a", "cli")  # as a cluster holds it
    Reconciler(store, settings).sync_all()
    (rule,) = _rules(out, "acme")
    assert "> 0.9" in rule["expr"] and 'customer_id="acme"' in rule["expr"]
    assert rule["for"] == "15m"
    # The platform tightens its template: the next sync renders the new expression.
    data = yaml.safe_load((EXAMPLES / "platform-templates.yaml").read_text())
    for template in data["alertTemplates"]:
        if template["name"] == "saturation":
            template["expr"] = template["expr"].replace("avg by (instance)", "max by (instance)")
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data))
    changed = SyncSettings(out_dir=out, platform=load_platform_config(str(path)))
    Reconciler(store, changed).sync_all()
    (rule,) = _rules(out, "acme")
    assert rule["expr"].startswith("1 - max by (instance)")


def test_a_last_valid_version_renders_as_admitted_not_as_stored(tmp_path: Path) -> None:
    """In Kubernetes the status keeps the spec as the user wrote it: an autoInject alert
    without its matcher. Its last valid version must render injected, never as written."""
    store, out = _store(tmp_path), tmp_path / "out"
    rec = Reconciler(store, SyncSettings(out_dir=out, coalesce_s=0.2, poll_s=0.02))
    store.apply([obj(alert(expr="errors_total > 1", autoInject=True))], "a", "cli")
    rec.sync_all()
    assert _rules(out, "acme")[0]["expr"] == 'errors_total{customer_id="acme"} > 1'
    store.apply(
        [obj(alert(expr="errors_total{customer_id='globex'} > 1", autoInject=True))], "a", "cli"
    )
    rec.sync({"acme"})
    assert _status(store, "acme-higherrorrate")["phase"] == "Invalid"
    assert _rules(out, "acme")[0]["expr"] == 'errors_total{customer_id="acme"} > 1'


def test_promtool_is_the_real_one() -> None:
    version = subprocess.run(
        [tools.tool_path("promtool"), "--version"], capture_output=True, text=True, check=True
    )
    assert "2.42" in version.stdout + version.stderr

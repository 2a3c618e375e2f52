"""The prometheus-operator sink against the real prometheus-operator (issue 11, "Prove it").

A real API server, the real prometheus-operator v0.85.0 (tests/support/promop_env.py) and
alertplane's operator with the chart's RBAC and flags; the Prometheus and Alertmanager objects
exactly as the chart renders them (`sink.prometheusOperator.createObjects`). The examples go in
with `kubectl apply`, plus per customer a probe alert and a capture receiver, and a customer
(`rogue`) whose PrometheusRule PO refuses and whose Slack Secret holds a value PO would
refuse (alertplane catches that one first: the receiver is Invalid). Then:

- nothing is Synced while PO is not running (Synced means live), everything is once it is;
  the refused customer is Failed with PO's message and nobody else is affected;
- the Alertmanager config PO generated routes every customer x severity x category (and
  unknown customers) exactly like `alertplane render` does (amtool 0.28 on both; PO's receiver
  names `<ns>/alertplane-<id>/<r>` normalized to `<id>/<r>`); promtool and amtool accept the
  generated files; the e-mail receiver carries the platform's SMTP settings;
- a real Prometheus (Debian 2.42) on the generated rule files and a real Alertmanager 0.28.1 on
  the generated config deliver one probe alert per customer to that customer's capture
  receiver only (acme's is e-mail, through the platform's smarthost).

One module fixture runs the stack; the tests read it.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.stack.capture import Capture
from tests.support import promop_env as po
from tests.support.factories import DROP, alert, receiver
from tests.support.operator_env import (
    EXAMPLE_CUSTOMERS,
    Cluster,
    OperatorProcess,
    chart_operator,
    condition,
    running,
    setup_examples,
    wait_for,
)
from tests.support.paths import EXAMPLES, ROOT
from tests.support.processes import free_port

SINK_NS = "monitoring"
ROGUE = "rogue"  # the customer whose objects PO refuses
CUSTOMERS = (*EXAMPLE_CUSTOMERS, ROGUE)
NAME = "main"  # the chart's default Prometheus and Alertmanager names
PROBE = "E2EProbe"
REFUSED = "was rejected due to invalid configuration"  # PO's Event text


@dataclass
class Stack:
    cluster: Cluster
    tmp: Path
    capture: Capture
    platform: Path  # the platform config as the chart renders it
    extra: Path  # the manifests beyond examples/customers
    before_po: dict[str, dict[str, Any]]  # every object, concluded while PO was not running
    settled: dict[str, dict[str, Any]]  # every object, none Pending any more, PO running
    config: Path  # PO's generated alertmanager.yaml, read after `settled`
    rules: Path  # PO's generated rule files (as <name>.yml), read after `settled`


def _platform(capture: Capture) -> dict[str, Any]:
    return {
        "alertmanager": {
            "global": {
                "smtp_smarthost": f"127.0.0.1:{capture.smtp_port}",
                "smtp_from": "alerts@alertplane.example",
                "smtp_require_tls": False,
            },
            "defaultReceiver": {
                "webhook_configs": [{"url": f"http://127.0.0.1:{capture.http_port}/platform"}]
            },
            "route": {
                "group_by": ["customer_id", "alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "4h",
            },
        }
    }


def _extra(capture: Capture) -> list[dict[str, Any]]:
    """A probe alert (always firing: absent() of a series nobody has) and a capture receiver
    (first in route order) per example customer; acme's receiver is e-mail. The rogue
    customer: a holt_winters rule (promtool 2.42 accepts it, PO's Prometheus 3 parser does
    not) and a Slack receiver whose Secret holds no URL."""
    hook = f"http://127.0.0.1:{capture.http_port}"
    route = {"priority": 0, "match": {"labels": {"probe": "e2e"}}}
    docs = []
    for cid in EXAMPLE_CUSTOMERS:
        expr = f'absent(alertplane_e2e_probe{{customer_id="{cid}"}})'
        probe = {"labels": {"probe": "e2e"}, "annotations": {"summary": f"probe of {cid}"}}
        docs.append(alert(cid, PROBE, severity="info", expr=expr, **probe))
        target: dict[str, Any] = (
            {"email": [{"to": [f"e2e@{cid}.example"]}]}
            if cid == "acme"
            else {"webhook": [{"url": f"{hook}/{cid}/capture"}]}
        )
        docs.append(receiver(cid, "capture", route=route, **target))
    bad_expr = f'holt_winters(app_load{{customer_id="{ROGUE}"}}[10m], 0.5, 0.5) > 1'
    docs.append(alert(ROGUE, "LoadTrend", expr=bad_expr))
    slack = [{"apiURLSecretRef": {"name": "rogue-slack", "key": "url"}, "channel": "#x"}]
    docs.append(receiver(ROGUE, "chat", webhook=DROP, slack=slack))
    return docs


def _objects(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every CustomerAlert/CustomerReceiver of the test's customers: `kind ns/name` → object."""
    out = {}
    for cid in CUSTOMERS:
        for kind, plural in (("CustomerAlert", "customeralerts"), ("CustomerReceiver",
                             "customerreceivers")):  # fmt: skip
            for obj in cluster.items("alertplane.io/v1alpha1", plural, cid):
                out[f"{kind} {cid}/{obj['metadata']['name']}"] = obj
    return out


def _concluded(obj: dict[str, Any]) -> bool:
    st = obj.get("status") or {}
    return st.get("observedGeneration") == obj["metadata"]["generation"] and bool(st.get("phase"))


def _all_concluded(cluster: Cluster, count: int) -> dict[str, dict[str, Any]] | None:
    objs = _objects(cluster)
    return objs if len(objs) == count and all(map(_concluded, objs.values())) else None


@pytest.fixture(scope="module")
def stack(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("promop-real")
    capture = Capture(tmp / "capture", free_port(), free_port()).start()
    try:
        yield from _stack(cluster, tmp, capture)
    finally:
        capture.stop()


def _stack(cluster: Cluster, tmp: Path, capture: Capture) -> Iterator[Stack]:
    setup_examples(cluster)
    cluster.namespace(ROGUE, ROGUE)
    cluster.secret(ROGUE, "rogue-slack", {"url": "not a url"})
    po.install_crds(cluster)
    values = {
        "sink": {
            "type": "prometheus-operator",
            "namespace": SINK_NS,
            "prometheusOperator": {"createObjects": True, "prometheus": [NAME],
                                   "alertmanager": [NAME]},
        },
        "watchNamespaces": list(CUSTOMERS),
        "platform": _platform(capture),
    }  # fmt: skip
    chart = chart_operator(cluster.env, values, "real")
    promop_objects = [d for d in chart.docs if d["kind"] in ("Prometheus", "Alertmanager")]
    assert sorted(d["kind"] for d in promop_objects) == ["Alertmanager", "Prometheus"]
    assert {d["metadata"]["namespace"] for d in promop_objects} == {SINK_NS}
    cluster.env.apply(*promop_objects)
    (cm,) = [d for d in chart.docs if d["kind"] == "ConfigMap" and "platform.yaml" in d["data"]]
    platform = tmp / "platform.yaml"
    platform.write_text(cm["data"]["platform.yaml"])
    extra = tmp / "extra.yaml"
    extra.write_text(yaml.safe_dump_all(_extra(capture)))

    args = [*chart.args(), f"--platform-config={platform}"]
    assert f"--promop-prometheus={NAME}" in args and f"--promop-alertmanager={NAME}" in args
    op = OperatorProcess(cluster.env, args, tmp / "operator.log", chart.kubeconfig)
    with running(op):
        cluster.env.kubectl("apply", "-f", str(EXAMPLES / "customers"), "-f", str(extra))
        count = 16 + len(_extra(capture))
        # prometheus-operator is not running yet: nothing may claim to be live.
        before = wait_for(lambda: _all_concluded(cluster, count), 90, "every object concluded")
        with po.promop_running(cluster, tmp, [SINK_NS]):
            po.wait_reconciled(cluster, "prometheuses", SINK_NS, NAME)
            po.wait_reconciled(cluster, "alertmanagers", SINK_NS, NAME)
            settled = wait_for(lambda: _all_settled(cluster, count), 120, "no object Pending")
            config, rules = _generated(cluster, tmp / "generated")
            yield Stack(cluster, tmp, capture, platform, extra, before, settled, config, rules)


def _all_settled(cluster: Cluster, count: int) -> dict[str, dict[str, Any]] | None:
    objs = _all_concluded(cluster, count)
    return objs if objs and all(o["status"]["phase"] != "Pending" for o in objs.values()) else None


def _generated(cluster: Cluster, out: Path) -> tuple[Path, Path]:
    """PO's generated alertmanager.yaml and rule files, on disk."""
    rules = out / "rules"
    rules.mkdir(parents=True)
    for cm in cluster.items("v1", "configmaps", SINK_NS):
        if (cm["metadata"].get("labels") or {}).get("prometheus-name") == NAME:
            for key, text in (cm.get("data") or {}).items():
                # Prometheus' rule_files glob is *.yml (tests/support/processes.py).
                (rules / f"{Path(key).stem}.yml").write_text(text)
    text = po.alertmanager_config_text(cluster, SINK_NS, NAME)
    assert text is not None, "PO generated no Alertmanager config"
    config = out / "alertmanager.yaml"
    config.write_text(text)
    return config, rules


# The rogue receiver's Secret holds a non-URL: alertplane refuses it before anything reaches
# prometheus-operator (sinks/promop_values.py: a value PO's whole-config build would refuse
# is never copied), so it is Invalid with the field named, not Failed by PO.
ROGUE_CHAT = f"CustomerReceiver {ROGUE}/{ROGUE}-chat"


def _expected_phase(key: str, obj: dict[str, Any]) -> str:
    if key == ROGUE_CHAT:
        return "Invalid"
    if key.split(" ", 1)[1].startswith(f"{ROGUE}/"):
        return "Failed"
    return "Disabled" if obj["spec"].get("enabled") is False else "Synced"


def test_synced_only_once_prometheus_operator_loaded_it(stack: Stack) -> None:
    for key, obj in stack.before_po.items():
        if key == ROGUE_CHAT:
            continue  # Invalid from the start (test_refused_customer_...)
        synced = condition(obj["status"], "Synced")
        assert (obj["status"]["phase"], synced["reason"]) == ("Pending", "Pending"), (key, synced)
        target = "Alertmanager" if key.startswith("CustomerReceiver") else "Prometheus"
        # (Alertmanager's message adds why, e.g. "(no generated configuration)".)
        expected = f"prometheus-operator has not loaded it into {target} {SINK_NS}/{NAME}"
        assert synced["message"].startswith(expected), (key, synced)
    phases = {k: o["status"]["phase"] for k, o in stack.settled.items()}
    assert phases == {k: _expected_phase(k, o) for k, o in stack.settled.items()}
    # Read after the statuses: what they claim live is in what PO generated.
    config = yaml.safe_load(stack.config.read_text())
    # The base (alertplane.platform) adds no route of its own: only the live customers' routes
    # are below the root, and the root ends at the platform's default receiver.
    assert config["route"]["receiver"] == f"{SINK_NS}/alertplane.platform/platform-default"
    first_level = sorted(r["matchers"] for r in config["route"].get("routes") or [])
    # rogue's AlertmanagerConfig holds only its valid receivers (the refused one is Invalid in
    # alertplane, never written), so PO accepts it; rogue's PrometheusRule it refuses (below).
    routed = sorted([*EXAMPLE_CUSTOMERS, ROGUE])
    assert first_level == [[f'customer_id="{cid}"'] for cid in routed]
    rule_files = sorted(p.name for p in stack.rules.glob("*.yml"))
    assert [f.split("-")[2] for f in rule_files] == sorted(EXAMPLE_CUSTOMERS), rule_files
    for key, obj in stack.settled.items():
        synced = condition(obj["status"], "Synced")
        if not key.split(" ", 1)[1].startswith(f"{ROGUE}/"):
            assert (synced["status"], synced["reason"]) == ("True", "Reloaded"), (key, synced)
            target = "Alertmanager" if key.startswith("CustomerReceiver") else "Prometheus"
            live = f"prometheus-operator generated it for {target} {SINK_NS}/{NAME}"
            assert synced["message"] == live, (key, synced)


def test_refused_customer_is_failed_with_prometheus_operators_message(stack: Stack) -> None:
    name = f"alertplane-{ROGUE}"
    events = po.warning_events(stack.cluster, SINK_NS, "PrometheusRule", name)
    assert events and all(REFUSED in e for e in events), events
    obj = stack.settled[f"CustomerAlert {ROGUE}/{ROGUE}-loadtrend"]
    synced = condition(obj["status"], "Synced")
    assert (obj["status"]["phase"], synced["reason"]) == ("Failed", "Rejected"), synced
    assert synced["message"] in events, (synced, events)
    # The receiver whose Secret PO would refuse never reached it: Invalid, field named,
    # the value never shown, and no AlertmanagerConfig of rogue's was written or refused.
    chat = stack.settled[ROGUE_CHAT]["status"]
    valid = condition(chat, "Valid")
    assert chat["phase"] == "Invalid", chat
    assert valid["message"].startswith(
        f"spec.slack[0].apiURLSecretRef: Secret {ROGUE}/rogue-slack key 'url' holds "
    ), valid
    assert "not a url" not in valid["message"]
    assert po.warning_events(stack.cluster, SINK_NS, "AlertmanagerConfig", name) == []


def _rendered(stack: Stack) -> Path:
    """`alertplane render` of the same manifests and platform config (its own output dir)."""
    rendered = stack.tmp / "rendered"
    if not rendered.exists():
        cmd = [sys.executable, "-m", "alertplane.cli", "render", "-f", str(EXAMPLES / "customers")]
        cmd += ["-f", str(stack.extra), f"--platform-config={stack.platform}", f"--out={rendered}"]
        subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return rendered


def _cases() -> list[dict[str, str]]:
    labels: list[dict[str, str]] = [
        {},
        {"probe": "e2e"},
        {"team": "dispatch"},
        {"team": "checkout"},
    ]
    out = []
    for cid, sev, cat, extra in itertools.product(
        (*CUSTOMERS, "nobody"), ("critical", "warning", "info", ""),
        ("application", "infrastructure", ""), labels,
    ):  # fmt: skip
        case = {"customer_id": cid, "alertname": "A", **extra}
        case.update({k: v for k, v in (("severity", sev), ("category", cat)) if v})
        out.append(case)
    return out


def test_generated_config_routes_like_alertplane_render(stack: Stack) -> None:
    config = stack.config
    ours = _rendered(stack) / "alertmanager.yml"
    mismatches = []
    for labels in _cases():
        theirs = [po.normalize_receiver(r, SINK_NS) for r in po.routes_test(config, labels)]
        # rogue's one receiver is Invalid: its AlertmanagerConfig has only the default route.
        expected = (
            ["platform-default"] if labels["customer_id"] == ROGUE else po.routes_test(ours, labels)
        )
        if theirs != expected:
            mismatches.append((labels, expected, theirs))
    assert not mismatches, "\n".join(map(str, mismatches[:20]))


def test_generated_files_pass_promtool_and_amtool(stack: Stack) -> None:
    config, files = stack.config, sorted(stack.rules.glob("*.yml"))
    assert len(files) == len(EXAMPLE_CUSTOMERS)
    check = subprocess.run(["promtool", "check", "rules", *map(str, files)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    check = subprocess.run([po.amtool(), "check-config", str(config)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_email_receiver_carries_the_platform_smtp_settings(stack: Stack) -> None:
    loaded = yaml.safe_load(stack.config.read_text())
    mails = {r["name"]: r["email_configs"] for r in loaded["receivers"] if r.get("email_configs")}
    docs = [d for f in (*sorted((EXAMPLES / "customers").glob("*.yaml")), stack.extra)
            for d in yaml.safe_load_all(f.read_text()) if d]  # fmt: skip
    assert set(mails) == {
        f"{SINK_NS}/alertplane-{d['spec']['customerId']}/{d['spec']['receiverName']}"
        for d in docs
        if d["kind"] == "CustomerReceiver" and d["spec"].get("email")
    }
    assert len(mails) >= 3  # acme's team and capture, globex's infra-mail
    for name, entries in mails.items():
        for entry in entries:
            assert entry["smarthost"] == f"127.0.0.1:{stack.capture.smtp_port}", name
            assert entry["from"] == "alerts@alertplane.example", name
            assert entry["require_tls"] is False, name


def test_one_alert_per_customer_reaches_its_capture_receiver_only(stack: Stack) -> None:
    config, rules = stack.config, stack.rules
    # Nothing to rewrite: PO inlines Secret values and writes no *_file path or template.
    assert "_file:" not in config.read_text()
    assert yaml.safe_load(config.read_text()).get("templates") in (None, [])
    ours = _rendered(stack) / "alertmanager.yml"
    am = po.Alertmanager028(config)
    with am, po.EagerPrometheus(rules, alertmanager_url=am.url) as prom:
        # The examples' own alerts that fire here (initech's StaplerMissing: absent()) are
        # routed like the probes but silenced: their receivers are the examples' URLs.
        _silence_all_but(am.url, PROBE)
        assert PROBE in {r["name"] for r in prom.rules()}
        firing = wait_for(lambda: _probes_routed(am), 120, "every probe alert in Alertmanager")
        for labels, receivers in firing:
            normalized = sorted(po.normalize_receiver(r, SINK_NS) for r in receivers)
            assert normalized == sorted(po.routes_test(ours, labels)), labels
        probes = {lb["customer_id"]: r for lb, r in firing if lb["alertname"] == PROBE}
        assert probes == {cid: [f"{SINK_NS}/alertplane-{cid}/capture"] for cid in EXAMPLE_CUSTOMERS}

        def delivered() -> list[dict[str, Any]] | None:
            msgs = stack.capture.messages()
            return msgs if len(msgs) >= len(EXAMPLE_CUSTOMERS) else None

        msgs = wait_for(delivered, 120, "one notification per customer")
    got = sorted(_who(m) for m in msgs)
    assert got == [("acme", "mail"), ("globex", "/globex/capture"), ("initech", "/initech/capture")]


def _silence_all_but(am_url: str, alertname: str) -> None:
    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "matchers": [
            {"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True},
            {"name": "alertname", "value": alertname, "isRegex": False, "isEqual": False},
        ],
        "startsAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endsAt": ends,
        "createdBy": "test_promop_real",
        "comment": "only the probes notify",
    }
    req = urllib.request.Request(
        f"{am_url}/api/v2/silences",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _probes_routed(am: po.Alertmanager028) -> list[tuple[dict[str, str], list[str]]] | None:
    """Every alert in Alertmanager with its receivers, once each customer's probe is there."""
    found = [(dict(a["labels"]), sorted(r["name"] for r in a["receivers"])) for a in am.alerts()]
    probes = {lb["customer_id"] for lb, _ in found if lb.get("alertname") == PROBE}
    return found if probes == set(EXAMPLE_CUSTOMERS) else None


def _who(msg: dict[str, Any]) -> tuple[str, str]:
    """(customer the notification is about, where it went), checking it is one probe alert."""
    if msg["kind"] == "mail":
        text = str(msg["parts"])
        assert PROBE in text, msg
        (to,) = msg["to"]
        return to.split("@")[1].removesuffix(".example"), "mail"
    alerts = msg["body"]["alerts"]
    assert [a["labels"]["alertname"] for a in alerts] == [PROBE], msg
    return alerts[0]["labels"]["customer_id"], msg["path"]

"""A customer must never make prometheus-operator refuse the WHOLE Alertmanager config.

prometheus-operator v0.85 checks each AlertmanagerConfig alone (operator.go
checkAlertmanagerConfigResource: a failure skips that object only), then builds the whole
configuration (amcfg.go AddAlertmanagerConfigs: a failure keeps the old one, for every
customer), which Alertmanager loads (a failure keeps the old one too). Whatever passes the
first and fails a later step freezes everybody. Two such values, both in the customer's own
Secret (which the customer may change at any time after admission; amtool saw only
`*_file` paths):
- a Slack URL spelled `\\u003csecret\\u003e`: the per-object check reads it as a
  `config.SecretURL` inside a JSON string (validation.ValidateSecretURL), equal to the JSON
  form of Alertmanager's redaction token `<secret>`, so accepted; the build reads it as a
  `config.URL` (validation.ValidateURL), `<secret>` once decoded, refused. Confirmed with
  the v0.85.0 validation package: ValidateSecretURL → nil, ValidateURL → "unsupported
  scheme".
- an empty PagerDuty routing key: prometheus-operator drops it (`omitempty`, no error),
  and Alertmanager's load refuses the configuration ("missing service or routing key").
The sink decides when it copies: such a value is never copied, and the AlertmanagerConfig
then references a key its Secret lacks, which the per-object check refuses for that
customer alone.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from alertplane.kube.client import ApiError
from alertplane.model import CustomerReceiver
from alertplane.render import ALERTMANAGER_PATH
from alertplane.render.platform import PlatformConfig
from alertplane.sinks import promop as promop_sink
from alertplane.sinks.base import Sink
from alertplane.sinks.factory import PROMETHEUS_OPERATOR, SinkSettings, build_sink
from alertplane.validate import parse_document
from tests.support.factories import receiver
from tests.unit.sinks.test_conformance import FakeKube

SECRETS = "/api/v1/namespaces/monitoring/secrets"
AMCS = "/apis/monitoring.coreos.com/v1alpha1/namespaces/monitoring/alertmanagerconfigs"
GOOD = "https://hooks.slack.example/services/T0/B0/x"


def _sink(monkeypatch: pytest.MonkeyPatch, kube: FakeKube) -> Sink:
    monkeypatch.setattr(promop_sink, "check_output", lambda files: None)
    settings = SinkSettings(
        kind=PROMETHEUS_OPERATOR, namespace="monitoring", platform=PlatformConfig()
    )
    sink = build_sink(settings, kube)
    sink.start()
    return sink


def _slack_receiver(customer: str) -> CustomerReceiver:
    manifest = receiver(
        customer, webhook=[], slack=[{"apiURLSecretRef": {"name": "hook", "key": "url"}}]
    )
    obj, problems = parse_document(manifest)
    assert isinstance(obj, CustomerReceiver), problems
    return obj


def _customer_secret(kube: FakeKube, customer: str, value: str) -> None:
    data = {"url": base64.b64encode(value.encode()).decode()}
    kube.objects[f"/api/v1/namespaces/{customer}/secrets/hook"] = {"data": data}


def _copied_urls(kube: FakeKube, customer: str) -> dict[str, str]:
    amc: dict[str, Any] = kube.objects[f"{AMCS}/alertplane-{customer}"]
    secret = kube.objects.get(f"{SECRETS}/alertplane-{customer}", {}).get("data", {})
    out = {}
    for rcv in amc["spec"]["receivers"]:
        for slack in rcv.get("slackConfigs", []):
            key = slack["apiURL"]["key"]
            if key in secret:
                out[key] = base64.b64decode(secret[key]).decode()
    return out


@pytest.mark.parametrize(
    "value",
    [
        "\\u003csecret\\u003e",
        " \\u003csecret\\u003e\n",
        "<secret>",
        "https://h/\\u0041",
        GOOD + "\x1c",
        "https://[::1",
        "ftp://h/x",
        "https://h/" + "a" * 600_000,  # its copy may not fit a Secret: the write would fail
    ],
)
def test_a_slack_url_the_whole_build_refuses_is_never_copied(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    kube = FakeKube()
    sink = _sink(monkeypatch, kube)
    _customer_secret(kube, "acme", value)
    _customer_secret(kube, "globex", GOOD)
    acme, globex = _slack_receiver("acme"), _slack_receiver("globex")
    problems = sink.check_receiver(acme)
    assert [p.path for p in problems] == ["spec.slack[0].apiURLSecretRef"]
    assert value.strip(" \n")[:64] not in json.dumps([p.text() for p in problems])  # a secret
    sink.write(
        {ALERTMANAGER_PATH: "x"},
        {"acme": [("acme", acme.spec)], "globex": [("globex", globex.spec)]},
    )
    assert _copied_urls(kube, "acme") == {}  # PO's per-object check refuses acme alone
    assert list(_copied_urls(kube, "globex").values()) == [GOOD]


def test_a_slack_url_with_surrounding_whitespace_is_copied_as_prometheus_operator_trims_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Secret made with `kubectl create secret --from-file` ends in a newline: held."""
    kube = FakeKube()
    sink = _sink(monkeypatch, kube)
    _customer_secret(kube, "acme", GOOD + "\n")
    acme = _slack_receiver("acme")
    assert sink.check_receiver(acme) == []
    sink.write({ALERTMANAGER_PATH: "x"}, {"acme": [("acme", acme.spec)]})
    assert list(_copied_urls(kube, "acme").values()) == [GOOD + "\n"]


@pytest.mark.parametrize("value", ["", "k" * 600_000])
def test_an_empty_or_huge_pagerduty_key_in_the_customers_secret_is_never_copied(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """prometheus-operator drops an empty routing key (`omitempty`, no error), and
    Alertmanager's load of the whole configuration then fails: "missing service or routing
    key in PagerDuty config". amtool saw only `routing_key_file` in alertplane's check.
    A huge one (a Secret holds up to 1 MiB) would not fit in the sink's copy: that write
    fails the sink's whole pass, so no customer after it is written any more."""
    kube = FakeKube()
    sink = _sink(monkeypatch, kube)
    encoded = base64.b64encode(value.encode()).decode()
    kube.objects["/api/v1/namespaces/acme/secrets/pd"] = {"data": {"rk": encoded}}
    manifest = receiver(
        "acme", webhook=[], pagerduty=[{"routingKeySecretRef": {"name": "pd", "key": "rk"}}]
    )
    acme, _ = parse_document(manifest)
    assert isinstance(acme, CustomerReceiver)
    problems = sink.check_receiver(acme)
    assert [p.path for p in problems] == ["spec.pagerduty[0].routingKeySecretRef"]
    assert problems[0].message.startswith("Secret acme/pd key 'rk' holds an empty value or")
    sink.write({ALERTMANAGER_PATH: "x"}, {"acme": [("acme", acme.spec)]})
    amc = kube.objects[f"{AMCS}/alertplane-acme"]
    [pagerduty] = [c for r in amc["spec"]["receivers"] for c in r.get("pagerdutyConfigs", [])]
    copied = kube.objects.get(f"{SECRETS}/alertplane-acme", {}).get("data", {})
    assert pagerduty["routingKey"]["key"] not in copied


class SizedKube(FakeKube):
    """Refuses what etcd refuses: an object of more than 1.5 MiB."""

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(body)) > 1536 * 1024:
            raise ApiError(500, "etcdserver: request is too large")
        return super().apply(path, body)


def test_one_customer_too_large_for_an_object_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A customer's rules (64 annotations of 16 KiB on each of a few alerts) or receivers
    (64 KiB templates) may exceed what one Kubernetes object holds. A refused write used to
    fail the sink's whole pass: no customer after it (by id) was written, every customer's
    status said WriteFailed, again on every retry. Now that customer alone is Rejected."""
    kube = SizedKube()
    sink = _sink(monkeypatch, kube)
    notes = {f"k{j}": "x" * 16_000 for j in range(64)}
    rules = [{"alert": f"A{i}", "expr": 'up{customer_id="acme"}', "annotations": notes}
             for i in range(2)]  # fmt: skip
    big = {"groups": [{"name": "acme-application", "rules": rules}]}
    one = {"alert": "A", "expr": 'up{customer_id="globex"}'}
    small = {"groups": [{"name": "globex-application", "rules": [one]}]}
    chat = [{"textTemplate": "y" * 60_000} for _ in range(32)]
    acme = _receiver_of(receiver("acme", webhook=[], slack=[{"apiURL": GOOD, **t} for t in chat]))
    globex = _receiver_of(receiver("globex"))
    files = {"rules/acme.yml": json.dumps(big), "rules/globex.yml": json.dumps(small)}
    written = sink.write(
        {**files, ALERTMANAGER_PATH: "x"},
        {"acme": [("acme", acme.spec)], "globex": [("globex", globex.spec)]},
    )
    assert written == ["rules/globex.yml", ALERTMANAGER_PATH]
    assert f"{AMCS}/alertplane-globex" in kube.objects
    assert f"{AMCS}/alertplane-acme" not in kube.objects
    for output in ("rules/acme.yml", ALERTMANAGER_PATH):
        live = sink.liveness(output, "acme")
        assert (live.synced, live.reason) == (False, "Rejected")
        assert "more than the 1048576 one Kubernetes object may hold" in live.message
    assert sink.liveness("rules/globex.yml", "globex").reason != "Rejected"
    sink.write(
        {"rules/acme.yml": None, ALERTMANAGER_PATH: "x"}, {"globex": [("globex", globex.spec)]}
    )
    assert sink.liveness("rules/acme.yml", "acme").reason != "Rejected"
    assert sink.liveness(ALERTMANAGER_PATH, "acme").reason != "Rejected"


def _receiver_of(manifest: dict[str, Any]) -> CustomerReceiver:
    obj, problems = parse_document(manifest)
    assert isinstance(obj, CustomerReceiver), problems
    return obj


def test_one_secret_key_used_as_url_and_as_routing_key_must_pass_both_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both references copy into the same key of the customer's Secret: the routing-key
    check alone (non-empty) would let the freezing URL through to the Slack reference."""
    kube = FakeKube()
    sink = _sink(monkeypatch, kube)
    _customer_secret(kube, "acme", "\\u003csecret\\u003e")
    ref = {"name": "hook", "key": "url"}
    manifest = receiver(
        "acme",
        webhook=[],
        slack=[{"apiURLSecretRef": ref}],
        pagerduty=[{"routingKeySecretRef": ref}],
    )
    acme = _receiver_of(manifest)
    paths = [p.path for p in sink.check_receiver(acme)]
    assert paths == ["spec.slack[0].apiURLSecretRef"]
    sink.write({ALERTMANAGER_PATH: "x"}, {"acme": [("acme", acme.spec)]})
    assert _copied_urls(kube, "acme") == {}


class SizedSecrets(FakeKube):
    """Refuses a Secret whose data exceeds 1 MiB, as the API server does."""

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data") or {}
        if sum(len(k) + len(base64.b64decode(v)) for k, v in data.items()) > 1024 * 1024:
            raise ApiError(422, "Secret is invalid: data: Too long: must have at most 1048576")
        return super().apply(path, body)


def test_many_bounded_urls_that_add_up_beyond_a_secret_reject_their_customer_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each copied URL is at most 2048 characters, but 16 receivers of 32 Slack configs
    each, every one referencing its own key, copy 1 MiB: a small AlertmanagerConfig with a
    Secret the API refuses (which used to fail the whole pass)."""
    kube = SizedSecrets()
    sink = _sink(monkeypatch, kube)
    url = "https://hooks.slack.example/" + "x" * 2016  # 2044 characters
    keys = {f"u{i}": base64.b64encode(url.encode()).decode() for i in range(512)}
    kube.objects["/api/v1/namespaces/acme/secrets/hook"] = {"data": keys}
    specs = []
    for r in range(16):
        slack = [{"apiURLSecretRef": {"name": "hook", "key": f"u{r * 32 + i}"}} for i in range(32)]
        specs.append(
            ("acme", _receiver_of(receiver("acme", name=f"r{r}", webhook=[], slack=slack)).spec)
        )
    globex = _receiver_of(receiver("globex"))
    sink.write({ALERTMANAGER_PATH: "x"}, {"acme": specs, "globex": [("globex", globex.spec)]})
    assert f"{AMCS}/alertplane-globex" in kube.objects
    live = sink.liveness(ALERTMANAGER_PATH, "acme")
    assert (live.synced, live.reason) == (False, "Rejected")

"""Liveness of the prometheus-operator sink (sinks/promop_live.py): which object state means
live, refused, failed or pending, on the shapes the real PO v0.85.0 writes (Prometheus status,
core/v1 Events folded by its recorder, the generated Secret), and the flags' names."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from typing import Any

import pytest

from alertplane.errors import AlertplaneError, UsageError
from alertplane.sinks.base import Liveness
from alertplane.sinks.factory import SinkSettings
from alertplane.sinks.promop_live import (
    LiveReader,
    Reconciled,
    Written,
    generated_config,
    parse_alertmanager,
    parse_prometheus,
    reconciled,
)
from tests.unit.sinks.test_promop_match import AMC, GENERATED_AM, GENERATED_RULES, SPEC

NS = "monitoring"
RULE_UID = "a0bc4f07-755a-4778-9346-fae9e0208a9a"
WRITTEN_AT = "2026-12-07T10:23:36Z"


def ours(name: str, uid: str, version: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One of our objects as the API returns it (server-side applied by `alertplane`)."""
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": uid,
            "resourceVersion": version,
            "creationTimestamp": "2026-12-07T10:20:00Z",
            "managedFields": [
                {"manager": "kubectl", "operation": "Update", "time": "2026-12-07T10:25:00Z"},
                {"manager": "alertplane", "operation": "Apply", "time": WRITTEN_AT},
            ],
        },
        "spec": spec,
    }


def event(kind: str, name: str, uid: str, version: str, last: str) -> dict[str, Any]:
    """PO's Event as its recorder leaves it: the first version's resourceVersion, the last
    time it was seen."""
    return {
        "involvedObject": {
            "kind": kind,
            "namespace": NS,
            "name": name,
            "uid": uid,
            "resourceVersion": version,
        },
        "reason": "InvalidConfiguration",
        "type": "Warning",
        "message": f"{kind} {name} was rejected due to invalid configuration: invalid rule",
        "firstTimestamp": "2026-12-07T10:20:00Z",
        "lastTimestamp": last,
        "count": 6,
        "eventTime": None,
    }


def status(generation: int, observed: int, state: str, message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": "main", "namespace": NS, "generation": generation},
        "status": {
            "conditions": [
                {"type": "Available", "status": "False", "reason": "NoPodReady",
                 "observedGeneration": observed},
                {"type": "Reconciled", "status": state, "message": message,
                 "reason": "" if state == "True" else "ReconciliationFailed",
                 "observedGeneration": observed},
            ]
        },
    }  # fmt: skip


def secret(text: str) -> dict[str, Any]:
    data = base64.b64encode(gzip.compress(text.encode())).decode()
    return {"data": {"alertmanager.yaml.gz": data}}


class Api:
    """The calls LiveReader makes, answered from objects by path (a list's path may carry
    a query); every call is counted."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any] | None] = {}
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[str] = []

    def get(self, path: str) -> dict[str, Any] | None:
        self.calls.append(path)
        return self.objects.get(path)

    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        self.calls.append(path)
        yield from self.lists.get(f"{path}|{label_selector or ''}", [])

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("liveness writes nothing")

    def delete(self, path: str) -> bool:
        raise AssertionError("liveness deletes nothing")


OURS = "app.kubernetes.io/managed-by=alertplane"
RULES = f"/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheusrules|{OURS}"
AMCS = f"/apis/monitoring.coreos.com/v1alpha1/namespaces/monitoring/alertmanagerconfigs|{OURS}"
EVENTS = (
    "/api/v1/namespaces/monitoring/events?fieldSelector=type=Warning,reason=InvalidConfiguration|"
)
CMS = "/api/v1/namespaces/monitoring/configmaps|managed-by=prometheus-operator,prometheus-name=main"
PROM = "/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheuses/main"
AM = "/apis/monitoring.coreos.com/v1/namespaces/monitoring/alertmanagers/main"
SECRET = "/api/v1/namespaces/monitoring/secrets/alertmanager-main-generated"
KEY = f"monitoring-alertplane-fine-co-{RULE_UID}.yaml"


@pytest.fixture
def api() -> Api:
    """PO reconciled both objects and generated what we wrote for fine-co."""
    a = Api()
    a.lists[RULES] = [ours("alertplane-fine-co", RULE_UID, "323", SPEC)]
    a.lists[AMCS] = [ours("alertplane-fine-co", "amc-uid", "324", AMC)]
    a.lists[CMS] = [{"data": {KEY: GENERATED_RULES}}]
    a.objects[PROM] = status(1, 1, "True")
    a.objects[AM] = status(2, 2, "True")
    a.objects[SECRET] = secret(GENERATED_AM)
    return a


def reader(api: Api) -> LiveReader:
    live = LiveReader(api, NS, [(NS, "main")], ["main"])
    live.read()
    return live


def rules(live: LiveReader, name: str = "alertplane-fine-co", spec: Any = SPEC) -> Liveness:
    got = live.rules_liveness(name, spec)
    assert got is not None
    return got


def routes(live: LiveReader, name: str = "alertplane-fine-co", spec: Any = AMC) -> Liveness:
    got = live.alertmanager_liveness(name, spec)
    assert got is not None
    return got


def test_live_when_prometheus_operator_generated_what_was_written(api: Api) -> None:
    live = reader(api)
    outcomes = live.read()
    assert {t: o.ok for t, o in outcomes.items()} == {"prometheus": True, "alertmanager": True}
    got = rules(live)
    assert (got.synced, got.reason) == (True, "Reloaded")
    assert got.message == "prometheus-operator generated it for Prometheus monitoring/main"
    got = routes(live)
    assert (got.synced, got.reason) == (True, "Reloaded")
    assert got.message == "prometheus-operator generated it for Alertmanager monitoring/main"


def test_one_pass_reads_a_bounded_number_of_objects(api: Api) -> None:
    for i in range(200):  # customers do not add calls
        api.lists[RULES].append(ours(f"alertplane-c{i}", f"u{i}", "1", SPEC))
    live = LiveReader(api, NS, [(NS, "main")], ["main"])
    live.read()
    assert len(api.calls) == 7  # 3 lists; per Prometheus get + list; per Alertmanager 2 gets
    for i in range(200):
        live.rules_liveness(f"alertplane-c{i}", SPEC)
    assert len(api.calls) == 7


def test_pending_while_prometheus_operator_has_not_generated_this_version(api: Api) -> None:
    api.lists[CMS] = [{"data": {KEY: GENERATED_RULES.replace("> 1", "> 2")}}]
    api.objects[SECRET] = None
    live = LiveReader(api, NS, [(NS, "main")], ["main"])
    live.read()
    got = live.rules_liveness("alertplane-fine-co", SPEC)
    assert got is not None and (got.synced, got.reason) == (False, "Pending")
    assert (
        got.message == "prometheus-operator has not loaded it into Prometheus monitoring/main yet"
    )
    got = live.alertmanager_liveness("alertplane-fine-co", AMC)
    assert got is not None and got.reason == "Pending"
    assert "Alertmanager monitoring/main (no generated configuration)" in got.message


def test_pending_names_the_generation_not_reconciled_yet(api: Api) -> None:
    api.lists[CMS] = []
    api.objects[PROM] = status(3, 2, "True")
    live = LiveReader(api, NS, [(NS, "main")], [])
    assert live.read()["prometheus"].ok  # waiting is not failing
    got = live.rules_liveness("alertplane-fine-co", SPEC)
    assert got is not None and got.reason == "Pending"
    assert got.message.endswith(
        "(waiting for prometheus-operator to reconcile Prometheus monitoring/main generation 3)"
    )


def test_rejected_by_an_event_on_this_version(api: Api) -> None:
    api.lists[CMS] = [{"data": {}}]
    # The Event names the current resourceVersion (first rejection of this version)...
    api.lists[EVENTS] = [event("PrometheusRule", "alertplane-fine-co", RULE_UID, "323", WRITTEN_AT)]
    live = reader(api)
    got = live.rules_liveness("alertplane-fine-co", SPEC)
    assert got is not None and (got.synced, got.reason) == (False, "Rejected")
    assert got.message == (
        "PrometheusRule alertplane-fine-co was rejected due to invalid configuration: invalid rule"
    )
    # ...or an older one, folded into it after we wrote this version.
    api.lists[EVENTS] = [
        event("PrometheusRule", "alertplane-fine-co", RULE_UID, "300", "2026-12-07T10:23:37Z")
    ]
    live.read()
    assert rules(live).reason == "Rejected"


@pytest.mark.parametrize(
    ("uid", "version", "last"),
    [
        (RULE_UID, "300", "2026-12-07T10:23:30Z"),  # about an older version
        (RULE_UID, "300", WRITTEN_AT),  # in the second of our write: not believed
        ("an-earlier-object", "323", "2026-12-07T10:30:00Z"),  # a deleted namesake's
    ],
    ids=["before", "same-second", "other-uid"],
)
def test_an_event_about_another_version_is_not_a_rejection(
    api: Api, uid: str, version: str, last: str
) -> None:
    api.lists[CMS] = [{"data": {}}]
    api.lists[EVENTS] = [event("PrometheusRule", "alertplane-fine-co", uid, version, last)]
    live = reader(api)
    assert rules(live).reason == "Pending"


def test_live_wins_over_a_stale_event(api: Api) -> None:
    api.lists[EVENTS] = [event("PrometheusRule", "alertplane-fine-co", RULE_UID, "323", WRITTEN_AT)]
    live = reader(api)
    assert rules(live).reason == "Reloaded"


def test_reload_failed_while_prometheus_operator_cannot_reconcile(api: Api) -> None:
    message = "provision alertmanager configuration: failed to get global AlertmanagerConfig"
    api.objects[AM] = status(3, 3, "False", message)
    api.objects[SECRET] = None
    live = LiveReader(api, NS, [(NS, "main")], ["main"])
    outcomes = live.read()
    assert outcomes["prometheus"].ok and not outcomes["alertmanager"].ok  # retried
    expected = f"Alertmanager monitoring/main: ReconciliationFailed: {message}"
    assert outcomes["alertmanager"].message == expected
    got = live.alertmanager_liveness("alertplane-fine-co", AMC)
    assert got is not None and (got.reason, got.message) == ("ReloadFailed", expected)
    # A customer part it generated before stays live.
    api.objects[SECRET] = secret(GENERATED_AM)
    live.read()
    assert routes(live).reason == "Reloaded"


def test_a_named_object_that_does_not_exist_fails_the_target(api: Api) -> None:
    del api.objects[PROM]
    live = LiveReader(api, NS, [(NS, "main")], [])
    outcome = live.read()["prometheus"]
    assert not outcome.ok and "Prometheus monitoring/main does not exist" in outcome.message


def test_nothing_written_is_never_pending(api: Api) -> None:
    """A customer with no AlertmanagerConfig, or whose objects are gone, is not waited for."""
    live = reader(api)
    got = live.alertmanager_liveness("alertplane-gone", None)
    assert got is not None and (got.synced, got.reason) == (True, "Written")
    assert rules(live, "alertplane-gone", None).reason == "Written"


def test_no_named_objects_means_nobody_to_ask(api: Api) -> None:
    live = LiveReader(api, NS, [], [])
    assert live.read() == {}
    assert api.calls == []  # nothing named: nothing read
    assert live.rules_liveness("alertplane-fine-co", SPEC) is None
    assert live.alertmanager_liveness("alertplane-fine-co", AMC) is None


def test_reading_fails_every_named_target(api: Api) -> None:
    class Down(Api):
        def get(self, path: str) -> dict[str, Any] | None:
            raise AlertplaneError("connection refused")

    down = Down()
    live = LiveReader(down, NS, [(NS, "main")], ["main"])
    outcomes = live.read()
    assert {t: o.ok for t, o in outcomes.items()} == {"prometheus": False, "alertmanager": False}
    assert (
        "cannot read prometheus-operator's state: connection refused"
        in outcomes["prometheus"].message
    )
    assert rules(live).reason == "ReloadFailed"


def test_reconciled_reads_the_current_generation_only() -> None:
    assert reconciled("Prometheus", NS, "main", status(2, 2, "True")) == Reconciled()
    assert reconciled("Prometheus", NS, "main", status(2, 1, "False", "old")).failed is None
    assert reconciled("Prometheus", NS, "main", {"metadata": {"generation": 1}}).awaited


def test_written_at_is_our_managed_fields_time() -> None:
    w = Written.of(ours("x", "u", "1", {}))
    assert w.at is not None and w.at.isoformat() == "2026-12-07T10:23:36+00:00"
    bare = Written.of({"metadata": {"uid": "u", "creationTimestamp": "2026-12-07T10:00:00Z"}})
    assert bare.at is not None and bare.at.hour == 10 and bare.at.minute == 0


def test_generated_config_reads_the_gzipped_secret() -> None:
    config = generated_config(secret(GENERATED_AM))
    assert config is not None and config["route"]["receiver"].endswith("platform-default")
    assert generated_config(None) is None
    assert generated_config({"data": {"alertmanager.yaml.gz": "bm90IGd6aXA="}}) is None


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("main", ("monitoring", "main")), ("obs/k8s", ("obs", "k8s")), ("a.b", ("monitoring", "a.b"))],
)
def test_prometheus_names(value: str, parsed: tuple[str, str]) -> None:
    assert parse_prometheus(value, "monitoring") == parsed


@pytest.mark.parametrize("value", ["", "Main", "a/b/c", "ns/", "/main", "x" * 254, "main_1"])
def test_bad_prometheus_names_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError, match="--promop-prometheus"):
        parse_prometheus(value, "monitoring")


def test_alertmanager_names() -> None:
    assert parse_alertmanager("main") == "main"
    with pytest.raises(UsageError) as err:
        parse_alertmanager("other/main")
    assert "sink namespace" in str(err.value.hint)


def test_the_flags_need_the_prometheus_operator_sink() -> None:
    with pytest.raises(UsageError, match="need --sink prometheus-operator"):
        SinkSettings(kind="configmap", promop_prometheus=("main",)).check()
    with pytest.raises(UsageError, match="--promop-alertmanager 'UP'"):
        SinkSettings(kind="prometheus-operator", promop_alertmanager=("UP",)).check()
    SinkSettings(kind="prometheus-operator", promop_prometheus=("obs/main",)).check()


def test_our_objects_are_listed_again_only_when_the_sink_holds_other_specs(api: Api) -> None:
    live = LiveReader(api, NS, [(NS, "main")], ["main"])
    held = ({"alertplane-fine-co": SPEC}, {"alertplane-fine-co": AMC})
    live.read(held)
    assert RULES.split("|")[0] in api.calls
    api.calls.clear()
    live.read(held)  # nothing written since: PO's state is read, our objects are not
    assert RULES.split("|")[0] not in api.calls and AMCS.split("|")[0] not in api.calls
    assert len(api.calls) == 5
    assert rules(live).reason == "Reloaded"
    # A write (or a write that failed half-way, or a resync that read a hand edit) changes
    # what the sink holds: listed again, so uid/resourceVersion/write time are current.
    changed = ({"alertplane-fine-co": {"groups": []}}, held[1])
    api.calls.clear()
    live.read(changed)
    assert RULES.split("|")[0] in api.calls

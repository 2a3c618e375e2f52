"""Sharding in the cluster sinks (sinks/kubeshards.py, configmap.py, promop.py): each
customer's rule object on its shard only, named and labelled for it; a move keeps the old
copy until the new shard has the rules (never a pass where no shard has them); the flags
that name each shard's Prometheus object, and the ruleSelector check.

The shards' Prometheus servers are stood in for by `Shards`: a reload loads what the
shard's label selects in the in-memory API (what a sidecar collecting ConfigMaps by label
feeds a Prometheus); the real servers are in tests/e2e."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.errors import UsageError
from alertplane.model import CustomerAlert
from alertplane.render.placement import place
from alertplane.render.platform import PlatformConfig, PrometheusSettings, Shard
from alertplane.render.rules import render_rules
from alertplane.sinks import configmap, loaded_query, promop
from alertplane.sinks import reload as reload_module
from alertplane.sinks.base import ReloadOutcome
from alertplane.sinks.factory import SinkSettings, build_sink
from alertplane.sinks.kubeshards import SHARD_LABEL
from alertplane.sinks.loaded import loaded_rule_files
from alertplane.sinks.promop_shards import parse_shard_prometheus, selector_problem
from tests.support.factories import alert
from tests.support.loaded_api import api_groups
from tests.unit.sinks.test_conformance import Checked, FakeKube

CUSTOMERS = [f"cust-{i}" for i in range(24)]
CM_PATH = "/api/v1/namespaces/monitoring/configmaps"


def platform(*shards: str, pins: dict[str, str] | None = None) -> PlatformConfig:
    settings = PrometheusSettings(
        shards=[Shard(name=s, url=f"http://{s}") for s in shards], pins=pins or {}
    )
    return PlatformConfig(prometheus=settings)


def rules(cid: str, severity: str = "critical") -> str:
    spec = CustomerAlert.model_validate(alert(cid, severity=severity)).spec
    text = render_rules(cid, [spec])
    assert text is not None
    return text


class Shards:
    """One stand-in Prometheus per shard URL: a reload loads the ConfigMaps labelled with
    its shard, as they are in the API at that moment."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        self.loaded: dict[str, list[dict[str, Any]]] = {}
        self.reloads: dict[str, int] = {}
        self.down: set[str] = set()

    def reload(self, url: str) -> ReloadOutcome:
        if url in self.down:
            return ReloadOutcome(False, 4, f"{url}/-/reload: connection refused")
        shard = url.removeprefix("http://")
        self.reloads[shard] = self.reloads.get(shard, 0) + 1
        groups: list[dict[str, Any]] = []
        for obj in self.kube.list(CM_PATH, f"{SHARD_LABEL}={shard}"):
            for key, text in obj["data"].items():
                groups += api_groups(text, f"/etc/prometheus/rules/{key}")
        self.loaded[shard] = groups
        return ReloadOutcome(True, 1)

    def loaded_rules(self, url: str) -> dict[str, list[Any]]:
        return loaded_rule_files(self.loaded.get(url.removeprefix("http://"), []))

    def holding(self, cid: str) -> list[str]:
        """The shards that have `cid`'s rules loaded."""
        return sorted(
            s
            for s, groups in self.loaded.items()
            if any(g["file"].endswith(f"/{cid}.yml") for g in groups)
        )


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeKube, Shards]:
    for module in (configmap, promop):
        monkeypatch.setattr(module, "check_output", Checked(), raising=False)
    fake = FakeKube()
    shards = Shards(fake)
    monkeypatch.setattr(reload_module, "reload", shards.reload)
    monkeypatch.setattr(loaded_query, "loaded_rules", shards.loaded_rules)
    return fake, shards


def configmap_sink(fake: FakeKube, config: PlatformConfig) -> Any:
    sink = build_sink(SinkSettings("configmap", platform=config), fake)
    sink.start()
    return sink


def one_pass(sink: Any, outputs: dict[str, str | None]) -> dict[str, Any]:
    """What the reconciler does: write, make live, ask each customer's liveness."""
    sink.make_live(sink.write(outputs, {}))
    return {
        rel.removeprefix("rules/").removesuffix(".yml"): sink.liveness(rel, rel[6:-4])
        for rel in outputs
    }


def names(fake: FakeKube) -> dict[str, str]:
    """ConfigMap name → its shard label."""
    return {
        obj["metadata"]["name"]: obj["metadata"]["labels"].get(SHARD_LABEL, "")
        for obj in fake.list(CM_PATH)
    }


def test_each_customer_on_its_shard_only(kube: tuple[FakeKube, Shards]) -> None:
    fake, shards = kube
    config = platform("a", "b", "c")
    sink = configmap_sink(fake, config)
    outputs: dict[str, str | None] = {f"rules/{c}.yml": rules(c) for c in CUSTOMERS}
    live = one_pass(sink, outputs)
    assert all(v.synced and v.reason == "Reloaded" for v in live.values()), live
    for cid in CUSTOMERS:
        shard = place(cid, config.prometheus)
        assert names(fake)[f"alertplane-rules-{cid}.{shard}"] == shard
        assert shards.holding(cid) == [shard]
        assert sink.location(f"rules/{cid}.yml", cid) == (
            f"ConfigMap monitoring/alertplane-rules-{cid}.{shard} (shard {shard})"
        )
    assert len({place(c, config.prometheus) for c in CUSTOMERS}) == 3  # all shards used
    # One customer's change reloads its shard only.
    before = dict(shards.reloads)
    cid = CUSTOMERS[0]
    one_pass(sink, {f"rules/{cid}.yml": rules(cid, "warning")})
    changed = {s for s in shards.reloads if shards.reloads[s] != before.get(s)}
    assert changed == {place(cid, config.prometheus)}


def test_a_move_keeps_the_old_copy_until_the_new_shard_has_it(
    kube: tuple[FakeKube, Shards],
) -> None:
    fake, shards = kube
    before, after = platform("a", "b"), platform("a", "b", "c")
    outputs: dict[str, str | None] = {f"rules/{c}.yml": rules(c) for c in CUSTOMERS}
    one_pass(configmap_sink(fake, before), outputs)
    moving = [c for c in CUSTOMERS if place(c, after.prometheus) == "c"]
    assert moving, "some customer moves to the new shard"
    shards.down.add("http://c")  # the new shard does not answer yet
    sink = configmap_sink(fake, after)  # a restart with the new shard list
    live = one_pass(sink, outputs)
    for cid in moving:
        assert not live[cid].synced and "moving from shard" in live[cid].message, live[cid]
        assert shards.holding(cid) == [place(cid, before.prometheus)]  # still live on old
    live = one_pass(sink, outputs)  # again: nothing removed while c cannot have them
    assert all(shards.holding(c) for c in CUSTOMERS)
    shards.down.clear()
    for _ in range(3):  # new shard loads → found live → old copy removed, old reloaded
        live = one_pass(sink, outputs)
        assert all(shards.holding(c) for c in CUSTOMERS), "a moved customer loaded nowhere"
    for cid in CUSTOMERS:
        assert live[cid].synced, live[cid]
        assert shards.holding(cid) == [place(cid, after.prometheus)]
    assert sorted(n for n in names(fake) if n.startswith("alertplane-rules-")) == sorted(
        f"alertplane-rules-{c}.{place(c, after.prometheus)}" for c in CUSTOMERS
    )
    assert sink.generated_outputs() == sorted(outputs)


def test_a_customer_going_away_mid_move_leaves_no_copy(kube: tuple[FakeKube, Shards]) -> None:
    fake, shards = kube
    cid = "cust-0"
    one_pass(configmap_sink(fake, platform("a", pins={cid: "a"})), {f"rules/{cid}.yml": rules(cid)})
    sink = configmap_sink(fake, platform("a", "b", pins={cid: "b"}))
    shards.down.add("http://b")
    one_pass(sink, {f"rules/{cid}.yml": rules(cid)})
    assert sorted(names(fake)) == [f"alertplane-rules-{cid}.a", f"alertplane-rules-{cid}.b"]
    shards.down.clear()
    one_pass(sink, {f"rules/{cid}.yml": None})
    assert [n for n in names(fake) if n.startswith("alertplane-rules-")] == []
    assert sink.generated_outputs() == []


def test_unsharded_names_stay_and_sharding_turned_on_is_a_move(
    kube: tuple[FakeKube, Shards],
) -> None:
    fake, _ = kube
    cid = "cust-1"
    outputs: dict[str, str | None] = {f"rules/{cid}.yml": rules(cid)}
    one_pass(configmap_sink(fake, PlatformConfig()), outputs)
    assert "alertplane-rules-cust-1" in names(fake)
    sink = configmap_sink(fake, platform("a"))
    one_pass(sink, outputs)
    one_pass(sink, outputs)
    live = one_pass(sink, outputs)
    assert live[cid].synced
    assert [n for n in names(fake) if n.startswith("alertplane-rules-")] == [
        f"alertplane-rules-{cid}.a"
    ]


# -- flags and the ruleSelector ------------------------------------------------------------


def test_shard_flags() -> None:
    plain, by_shard = parse_shard_prometheus(
        ["a=main-a", "b=other/main-b"], "monitoring", ["a", "b"]
    )
    assert plain == [] and by_shard == {"a": [("monitoring", "main-a")], "b": [("other", "main-b")]}
    assert parse_shard_prometheus(["main"], "monitoring", []) == ([("monitoring", "main")], {})
    refused = {
        "unsharded name with shards": (["main"], ["a"], "name each shard's Prometheus"),
        "unknown shard": (["x=main"], ["a"], "no shard named 'x'"),
        "shard without shards": (["a=main"], [], "prometheus.shards is empty"),
        "a shard left out": (["a=main-a"], ["a", "b"], "for shard(s) b"),
        "one object for two shards": (["a=main", "b=main"], ["a", "b"], "named for shards a and b"),
        "bad name": (["a=Main_A"], ["a"], "does not name a Prometheus object"),
    }
    for case, (values, shards, said) in refused.items():
        with pytest.raises(UsageError) as err:
            parse_shard_prometheus(values, "monitoring", shards)
        assert said in str(err.value), (case, str(err.value))


def test_prometheus_url_with_shards_is_a_usage_error() -> None:
    settings = SinkSettings("configmap", platform=platform("a"), prometheus_url="http://p")
    with pytest.raises(UsageError, match=r"prometheus\.shards\[\]\.url"):
        settings.check()


def test_a_shard_prometheus_must_select_its_shard_only() -> None:
    def prom(selector: dict[str, Any]) -> dict[str, Any]:
        return {
            "metadata": {"namespace": "monitoring", "name": "main-a"},
            "spec": {"ruleSelector": selector},
        }

    assert selector_problem(prom({"matchLabels": {SHARD_LABEL: "a", "x": "y"}}), "a") is None
    expr = {"key": SHARD_LABEL, "operator": "In", "values": ["a"]}
    assert selector_problem(prom({"matchExpressions": [expr]}), "a") is None
    for wrong in (
        {"matchLabels": {"alertplane.io/rules": "true"}},  # every shard's rules
        {"matchLabels": {SHARD_LABEL: "b"}},
        {"matchExpressions": [{**expr, "values": ["a", "b"]}]},
        {"matchExpressions": [{**expr, "operator": "NotIn"}]},
    ):
        said = selector_problem(prom(wrong), "a")
        assert said is not None and "monitoring/main-a" in said and f"{SHARD_LABEL}: a" in said


# -- prometheus-operator liveness, per shard -----------------------------------------------


def test_promop_liveness_asks_the_shard_prometheus_only() -> None:
    from alertplane.sinks.promop_live import LiveReader
    from tests.unit.sinks.test_promop_live import (
        CMS,
        RULE_UID,
        RULES,
        SPEC,
        Api,
        ours,
        status,
    )
    from tests.unit.sinks.test_promop_match import GENERATED_RULES

    api = Api()
    name = "alertplane-fine-co.a"
    api.lists[RULES] = [ours(name, RULE_UID, "323", SPEC)]
    key = f"monitoring-{name}-{RULE_UID}.yaml"
    prom = "/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheuses/"
    for shard in ("a", "b"):
        obj = status(1, 1, "True")
        obj["metadata"]["name"] = f"main-{shard}"
        obj["spec"] = {"ruleSelector": {"matchLabels": {SHARD_LABEL: shard}}}
        api.objects[prom + f"main-{shard}"] = obj
        api.lists[CMS.replace("=main", f"=main-{shard}")] = []
    api.lists[CMS.replace("=main", "=main-a")] = [{"data": {key: GENERATED_RULES}}]
    shards = {"a": [("monitoring", "main-a")], "b": [("monitoring", "main-b")]}
    live = LiveReader(api, "monitoring", [], [], shards)
    outcomes = live.read()
    assert {t: o.ok for t, o in outcomes.items()} == {"prometheus/a": True, "prometheus/b": True}
    got = live.rules_liveness(name, SPEC, "a")
    assert got is not None and got.synced, got
    assert got.message == "prometheus-operator generated it for Prometheus monitoring/main-a"
    # main-b has not got it, and is not asked: a shard's customer waits for its shard only.
    got = live.rules_liveness(name, SPEC, "b")
    assert got is not None and not got.synced and "monitoring/main-b" in got.message
    # main-a selects every shard's rules: its shard fails, naming the fix, although PO
    # generated the customer's file for it (it would also evaluate others' customers).
    api.objects[prom + "main-a"]["spec"]["ruleSelector"] = {"matchLabels": {}}
    outcomes = live.read()
    assert not outcomes["prometheus/a"].ok and outcomes["prometheus/b"].ok
    got = live.rules_liveness(name, SPEC, "a")
    assert got is not None and got.reason == "ReloadFailed", got
    assert "add matchLabels {alertplane.io/shard: a}" in got.message
    api.objects[prom + "main-a"]["spec"]["ruleSelector"] = {"matchLabels": {SHARD_LABEL: "a"}}
    api.objects[prom + "main-b"]["spec"]["ruleSelector"] = {"matchLabels": {}}
    outcomes = live.read()
    assert outcomes["prometheus/a"].ok and not outcomes["prometheus/b"].ok
    assert "add matchLabels {alertplane.io/shard: b}" in outcomes["prometheus/b"].message
    got = live.rules_liveness(name, SPEC, "b")
    assert got is not None and got.reason == "ReloadFailed" and "main-b" in got.message


def test_a_change_during_a_stuck_move_does_not_claim_the_old_shard_has_it(
    kube: tuple[FakeKube, Shards],
) -> None:
    """cust-0 moves from a to b, b is down, its owner changes the rules meanwhile: the old
    copy on a has the PREVIOUS rules; the status must say so, not 'still live on a'."""
    fake, shards = kube
    cid = "cust-0"
    one_pass(configmap_sink(fake, platform("a", pins={cid: "a"})), {f"rules/{cid}.yml": rules(cid)})
    sink = configmap_sink(fake, platform("a", "b", pins={cid: "b"}))
    shards.down.add("http://b")
    live = one_pass(sink, {f"rules/{cid}.yml": rules(cid)})[cid]
    assert "still live on a" in live.message and "previous" not in live.message, live
    live = one_pass(sink, {f"rules/{cid}.yml": rules(cid, "warning")})[cid]
    assert not live.synced and "previous rules still live on a" in live.message, live
    assert shards.holding(cid) == ["a"]


def test_a_removed_shard_is_reloaded_empty_while_retiring(kube: tuple[FakeKube, Shards]) -> None:
    """Shard c leaves the list; its Prometheus still runs. Its customers move to a and b,
    their copies on c are deleted, and c must be reloaded, or it evaluates every one of
    them (twice) from memory for as long as it runs: its URL, gone from
    prometheus.shards, is given as prometheus.retiringShards until the moves are done."""
    fake, shards = kube
    before = platform("a", "b", "c")
    after = PlatformConfig(
        prometheus=PrometheusSettings(
            shards=[Shard(name=s, url=f"http://{s}") for s in "ab"],
            retiringShards=[Shard(name="c", url="http://c")],
        )
    )
    outputs: dict[str, str | None] = {f"rules/{c}.yml": rules(c) for c in CUSTOMERS}
    one_pass(configmap_sink(fake, before), outputs)
    assert any(shards.holding(c) == ["c"] for c in CUSTOMERS)
    sink = configmap_sink(fake, after)
    for _ in range(4):
        live = one_pass(sink, outputs)
        assert all(shards.holding(c) for c in CUSTOMERS), "a moved customer loaded nowhere"
    assert all(v.synced for v in live.values()), live
    twice = {c: shards.holding(c) for c in CUSTOMERS if "c" in shards.holding(c)}
    assert twice == {}, f"still evaluated on the removed shard: {twice}"

"""The chart with `platform.prometheus.shards` (helm template): one Prometheus object per
prometheusOperator entry and shard, each selecting its shard only, the operator's
`--promop-prometheus SHARD=NS/NAME` flags and liveness RBAC for exactly those; retiring
shards rendered but never named to the operator; the flags the operator accepts."""

from __future__ import annotations

from alertplane.render.platform import PlatformConfig
from alertplane.sinks.factory import SinkSettings
from tests.support.helm import FULLNAME, NS, Doc, Helm, argv, live_rules, named_rules, one

SHARDED: Doc = {
    "sink": {"type": "prometheus-operator", "prometheusOperator": {"createObjects": True}},
    "platform": {"prometheus": {"shards": [{"name": "a"}, {"name": "b"}], "pins": {"acme": "b"}}},
}


def prometheus_names(docs: list[Doc]) -> list[str]:
    return sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Prometheus")


def test_one_prometheus_per_shard_selecting_its_shard(helm: Helm) -> None:
    docs = helm.template(SHARDED)
    assert prometheus_names(docs) == ["main-a", "main-b"]
    for shard in ("a", "b"):
        spec = one(docs, "Prometheus", f"main-{shard}")["spec"]
        assert spec["ruleSelector"] == {
            "matchLabels": {
                "alertplane.io/rules": "true",
                "app.kubernetes.io/managed-by": "alertplane",
                "alertplane.io/shard": shard,
            }
        }
    flags = [a for a in argv(docs) if a.startswith("--promop-prometheus")]
    assert flags == [f"--promop-prometheus={s}={NS}/main-{s}" for s in ("a", "b")]
    live_role = one(docs, "Role", f"{FULLNAME}-live", NS)
    assert named_rules(live_role) == live_rules(("main-a", "main-b"), ("main",))
    # What the chart passes, the operator takes (the platform config it mounts, parsed).
    platform = PlatformConfig.model_validate(SHARDED["platform"])
    values = tuple(f.split("=", 1)[1] for f in flags)
    SinkSettings(
        "prometheus-operator", namespace=NS, platform=platform, promop_prometheus=values
    ).check()


def test_unsharded_stays_one_object_named_as_given(helm: Helm) -> None:
    docs = helm.template({"sink": SHARDED["sink"]})
    assert prometheus_names(docs) == ["main"]
    selector = one(docs, "Prometheus", "main")["spec"]["ruleSelector"]["matchLabels"]
    assert "alertplane.io/shard" not in selector
    assert [a for a in argv(docs) if a.startswith("--promop-prometheus")] == [
        "--promop-prometheus=main"
    ]


def test_retiring_shards_keep_their_objects_without_a_flag(helm: Helm) -> None:
    values: Doc = {
        "sink": {
            "type": "prometheus-operator",
            "prometheusOperator": {"createObjects": True, "retiringShards": ["b"]},
        },
        "platform": {"prometheus": {"shards": [{"name": "a"}, {"name": "c"}]}},
    }
    docs = helm.template(values)
    assert prometheus_names(docs) == ["main-a", "main-b", "main-c"]
    selector = one(docs, "Prometheus", "main-b")["spec"]["ruleSelector"]["matchLabels"]
    assert selector["alertplane.io/shard"] == "b"
    assert [a for a in argv(docs) if a.startswith("--promop-prometheus")] == [
        f"--promop-prometheus=a={NS}/main-a",
        f"--promop-prometheus=c={NS}/main-c",
    ]
    values["sink"]["prometheusOperator"]["retiringShards"] = ["a"]
    said = helm.template_error(values)
    assert "retiringShards: a is still in platform.prometheus.shards" in said, said


def test_shard_specs_give_one_shard_its_own_scraping(helm: Helm) -> None:
    select_b = {"matchLabels": {"alertplane.io/shard-data": "b"}}
    values: Doc = {
        "sink": {
            "type": "prometheus-operator",
            "prometheusOperator": {
                "createObjects": True,
                "shardSpecs": {"b": {"serviceMonitorSelector": select_b, "replicas": 2}},
            },
        },
        "platform": SHARDED["platform"],
    }
    docs = helm.template(values)
    spec_a, spec_b = (one(docs, "Prometheus", f"main-{s}")["spec"] for s in ("a", "b"))
    assert spec_b["serviceMonitorSelector"] == select_b and spec_b["replicas"] == 2
    assert spec_a["serviceMonitorSelector"] != select_b and "replicas" not in spec_a
    assert spec_b["ruleSelector"]["matchLabels"]["alertplane.io/shard"] == "b"
    refused = {
        "x": ({"replicas": 1}, "shardSpecs.x: no such shard"),
        "a": ({"ruleSelector": {}}, "shardSpecs.a.ruleSelector is the chart's"),
    }
    for shard, (extra, said) in refused.items():
        values["sink"]["prometheusOperator"]["shardSpecs"] = {shard: extra}
        error = helm.template_error(values)
        assert said in error, error


def test_prometheus_url_beside_shards_is_refused_at_render(helm: Helm) -> None:
    values: Doc = {
        "sink": {"type": "configmap"},
        "prometheusUrl": "http://prometheus:9090",
        "platform": {"prometheus": {"shards": [{"name": "a", "url": "http://a:9090"}]}},
    }
    said = helm.template_error(values)
    assert "platform.prometheus.shards[].url" in said, said
    del values["prometheusUrl"]
    cm_docs = helm.template(values)
    assert not [a for a in argv(cm_docs) if a.startswith("--prometheus-url")]


def test_a_shard_name_too_long_for_its_prometheus_pods_is_refused_at_render(helm: Helm) -> None:
    """prometheus-operator runs the Prometheus `main-<shard>` as the StatefulSet
    `prometheus-main-<shard>`, whose pods carry `controller-revision-hash:
    <statefulset>-<10 characters>`: past 41 characters of object name that label passes 63
    and Kubernetes creates no pod at all (kubernetes#64023), the shard's customers Pending
    forever. A shard name is a DNS label (63): refused at render, not found out later."""
    longest = "s" * (41 - len("main-"))
    values: Doc = {
        "sink": SHARDED["sink"],
        "platform": {"prometheus": {"shards": [{"name": "a"}, {"name": longest}]}},
    }
    assert f"main-{longest}" in prometheus_names(helm.template(values))
    values["platform"]["prometheus"]["shards"][1]["name"] = longest + "t"
    said = helm.template_error(values)
    assert f"main-{longest}t" in said and "41" in said, said

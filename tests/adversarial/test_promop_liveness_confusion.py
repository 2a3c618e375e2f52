"""A customer whose id extends another's (`a` and `a-b`: objects `alertplane-a` and
`alertplane-a-b`, rule ConfigMap keys `monitoring-alertplane-a-<uid>.yaml` and
`monitoring-alertplane-a-b-<uid>.yaml`) can never make the other's status Synced or
Failed: the generated routes are indexed by the exact `<ns>/<object>/` prefix, rule files
by the exact key (with the uid), and refusal Events by the object's uid."""

from __future__ import annotations

import copy
from typing import Any

from alertplane.sinks.promop_live import Written
from alertplane.sinks.promop_match import GeneratedRoutes, customer_part_matches, rule_file_key
from tests.unit.sinks.test_promop_match import AMC, generated


def test_a_longer_id_s_route_never_counts_for_the_shorter_one() -> None:
    config = generated()
    # Only `a-b` (whose id starts with `a`) is in the generated configuration.
    for route in config["route"]["routes"]:
        route["receiver"] = route["receiver"].replace("fine-co", "a-b")
        route["matchers"] = [m.replace("fine-co", "a-b") for m in route["matchers"]]
        for child in route.get("routes", []):
            child["receiver"] = child["receiver"].replace("fine-co", "a-b")
    for receiver in config["receivers"]:
        receiver["name"] = receiver["name"].replace("fine-co", "a-b")
    ours: dict[str, Any] = copy.deepcopy(AMC)
    ours["route"]["matchers"][0]["value"] = "a"
    routes = GeneratedRoutes.of(config)
    assert customer_part_matches(routes, ours, "monitoring/alertplane-a/") == "no route"
    ours_b = copy.deepcopy(ours)
    ours_b["route"]["matchers"][0]["value"] = "a-b"
    assert customer_part_matches(routes, ours_b, "monitoring/alertplane-a-b/") is None


def test_rule_file_keys_of_prefix_ids_are_distinct_and_uid_bound() -> None:
    key_a = rule_file_key("monitoring", "alertplane-a", "u1")
    key_ab = rule_file_key("monitoring", "alertplane-a-b", "u2")
    assert key_a != key_ab and not key_ab.startswith(key_a.removesuffix(".yaml"))
    # `a` with the uid `b-u2` would spell `a-b`'s key: Kubernetes uids are UUIDs (8 hex
    # digits first, never `b-`), and the key is looked up exactly, never parsed.
    assert rule_file_key("monitoring", "alertplane-a", "b-u2") == key_ab


def test_an_event_on_a_similarly_named_object_is_not_a_refusal() -> None:
    mine = Written.of({"metadata": {"uid": "uid-a", "resourceVersion": "7"}})
    event = {
        "involvedObject": {
            "kind": "PrometheusRule",
            "name": "alertplane-a-b",
            "uid": "uid-ab",
            "resourceVersion": "7",
        },
        "message": "PrometheusRule alertplane-a-b was rejected",
    }
    assert mine.refused([event]) is None
    event["involvedObject"]["uid"] = "uid-a"
    assert mine.refused([event]) == "PrometheusRule alertplane-a-b was rejected"

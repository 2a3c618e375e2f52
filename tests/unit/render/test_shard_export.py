"""render/shard_export.py: the placement in the forms Prometheus' configuration reads."""

from __future__ import annotations

import json
import re

import pytest

from alertplane.errors import UsageError
from alertplane.render.shard_export import (
    NOBODY,
    keep_relabel,
    parse_targets,
    split_targets,
    targets_json,
)


def _keeps(rule: dict[str, object], value: str) -> bool:
    """Prometheus anchors a relabel regex: ^(?:REGEX)$."""
    return re.fullmatch(f"(?:{rule['regex']})", value) is not None


def test_keep_is_anchored_per_customer() -> None:
    rule = keep_relabel(["acme", "globex", "acme"])
    assert rule == {"source_labels": ["customer_id"], "regex": "acme|globex", "action": "keep"}
    assert _keeps(rule, "acme") and _keeps(rule, "globex")
    for other in ("acme-eu", "xacme", "", "globe", "acme|globex"):
        assert not _keeps(rule, other)


def test_an_empty_shard_keeps_nothing() -> None:
    rule = keep_relabel([])
    assert rule["regex"] == NOBODY
    assert not any(_keeps(rule, v) for v in ("", "a", "acme", "a^"))


def test_split_follows_the_holders_and_leaves_unowned_groups_out() -> None:
    groups = [
        {"targets": ["h1:1"], "labels": {"customer_id": "acme"}},
        {"targets": ["h2:1"], "labels": {"customer_id": "globex"}},
        {"targets": ["shared:1"], "labels": {}},
    ]
    holders = {"acme": ["a"], "globex": ["a", "b"]}  # globex moving from a to b: both
    split, unowned = split_targets(groups, lambda c: holders[c], ["a", "b", "c"])
    assert unowned == 1
    assert split == {"a": groups[:2], "b": [groups[1]], "c": []}
    assert json.loads(targets_json(split["c"])) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{}", "a file_sd list"),
        ("[{labels: {}}]", "[0].targets"),
        ("[{targets: [1]}]", "[0].targets"),
        ('[{targets: ["h:1"], labels: {customer_id: 3}}]', "[0].labels"),
        ("[: bad", "not YAML/JSON"),
    ],
)
def test_a_bad_target_list_is_named_by_field(text: str, where: str) -> None:
    with pytest.raises(UsageError, match=re.escape(where)):
        parse_targets(text, "targets.json")


def test_json_and_yaml_lists_read_alike() -> None:
    as_json = '[{"targets": ["h:1"], "labels": {"customer_id": "acme"}}]'
    as_yaml = "- targets: [h:1]\n  labels: {customer_id: acme}\n"
    assert parse_targets(as_json, "t") == parse_targets(as_yaml, "t")
    assert parse_targets("", "t") == []


def test_a_value_no_customer_id_can_be_is_on_no_list_and_never_in_a_regex() -> None:
    groups = [
        {"targets": ["h:1"], "labels": {"customer_id": "acme|.*"}},  # would keep everyone
        {"targets": ["h:2"], "labels": {"customer_id": "Acme"}},
        {"targets": ["h:3"], "labels": {"customer_id": ""}},
    ]
    split, unowned = split_targets(groups, lambda c: ["a"], ["a"])
    assert (split, unowned) == ({"a": []}, 3)
    with pytest.raises(ValueError, match=re.escape("acme|.*")):
        keep_relabel(["globex", "acme|.*"])

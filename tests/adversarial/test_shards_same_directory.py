"""A careless operator renames shard `a` to `b` and, so that a's Prometheus keeps finding
its rules, links `shards/b` to `shards/a` (or bind-mounts one directory as both). Both
names then hold every file once. Leaving the "old" shard must never remove the only copy:
the customer would be loaded nowhere while its status says Synced."""

from __future__ import annotations

from pathlib import Path

from alertplane.render.platform import PlatformConfig
from alertplane.render.yamlout import GENERATED
from alertplane.sinks.sharded import ShardedFileSink

RULES = GENERATED + "groups:\n- name: acme\n  rules:\n  - alert: A\n    expr: vector(1)\n"


def test_leaving_a_shard_that_is_the_same_directory_keeps_the_only_copy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    own = out / "shards" / "a" / "rules" / "acme.yml"
    own.parent.mkdir(parents=True)
    own.write_text(RULES, encoding="utf-8")
    (out / "shards" / "b").symlink_to(out / "shards" / "a", target_is_directory=True)
    config = PlatformConfig.model_validate({"prometheus": {"shards": [{"name": "b"}]}})
    sink = ShardedFileSink(out, config.prometheus, urls=dict)
    sink.start()
    assert sink.placed("acme") == "b"
    sink.write({}, {})
    sink.make_live([])
    assert own.read_text(encoding="utf-8") == RULES, "the only copy of acme's rules is gone"
    assert (out / "shards" / "b" / "rules" / "acme.yml").is_file()

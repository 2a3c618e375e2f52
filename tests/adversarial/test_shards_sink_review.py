"""The sharded files sink against a careless operator and a stuck move, where no running
Prometheus is needed (a shard without URL counts as loaded once written; a shard whose URL
nobody listens on is down).

A rename of shard `a` to `b` with `shards/b` linked to `shards/a` (or one directory mounted
as both) holds every file once under two names: leaving the "old" shard must never remove
the only copy (the customer would be loaded nowhere while Synced)."""

from __future__ import annotations

from pathlib import Path

from alertplane.render.platform import PlatformConfig
from alertplane.render.yamlout import GENERATED
from alertplane.sinks.sharded import ShardedFileSink
from tests.support.processes import free_port

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


NEW = RULES.replace("vector(1)", "vector(2)")


def test_a_change_during_a_stuck_move_does_not_claim_the_old_shard_evaluates_it(
    tmp_path: Path,
) -> None:
    """acme moves from a to b, b is down; acme's owner changes its rules meanwhile. The new
    rules are written to b only: a still evaluates the PREVIOUS ones. The status must not
    tell the owner its rules are evaluated on a (it would trust a rule nobody runs)."""
    out = tmp_path / "out"
    old = out / "shards" / "a" / "rules" / "acme.yml"
    old.parent.mkdir(parents=True)
    old.write_text(RULES, encoding="utf-8")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: b is down
    config = PlatformConfig.model_validate(
        {
            "prometheus": {
                "shards": [{"name": "a"}, {"name": "b", "url": down}],
                "pins": {"acme": "b"},
            }
        }
    )
    sink = ShardedFileSink(out, config.prometheus, urls=dict)
    sink.start()
    sink.write({"rules/acme.yml": RULES}, {})  # the move, unchanged rules
    sink.make_live(["rules/acme.yml"])
    said = sink.liveness("rules/acme.yml", "acme")
    assert not said.synced and "still evaluated on a" in said.message, said
    assert "previous" not in said.message, said
    sink.write({"rules/acme.yml": NEW}, {})  # changed while b is still down
    sink.make_live(["rules/acme.yml"])
    said = sink.liveness("rules/acme.yml", "acme")
    assert not said.synced and "previous rules still evaluated on a" in said.message, said
    assert old.read_text(encoding="utf-8") == RULES  # a keeps evaluating something


def test_a_shard_list_changed_back_while_a_move_waits_leaves_one_copy(tmp_path: Path) -> None:
    """acme is pinned to a new shard b that is down (the move waits, acme evaluated on a);
    the operator gives up and restarts with the old list. acme stays on a, live; its copy
    on b (never loaded) goes; b, down and no longer configured, is forgotten."""
    out = tmp_path / "out"
    old = out / "shards" / "a" / "rules" / "acme.yml"
    old.parent.mkdir(parents=True)
    old.write_text(RULES, encoding="utf-8")
    down = f"http://127.0.0.1:{free_port()}"
    shards = [{"name": "a"}, {"name": "b", "url": down}]
    moving = PlatformConfig.model_validate(
        {"prometheus": {"shards": shards, "pins": {"acme": "b"}}}
    )
    sink = ShardedFileSink(out, moving.prometheus, urls=dict)
    sink.start()
    sink.write({"rules/acme.yml": NEW}, {})
    sink.make_live(["rules/acme.yml"])
    assert sink.held_by() == {"acme": {"a", "b"}}
    back = PlatformConfig.model_validate({"prometheus": {"shards": [{"name": "a"}]}})
    sink = ShardedFileSink(out, back.prometheus, urls=dict)  # the restart
    sink.start()
    assert sink.former == {"b": down}
    sink.write({"rules/acme.yml": NEW}, {})  # the reconciler writes acme's current rules
    sink.make_live(["rules/acme.yml"])
    assert sink.liveness("rules/acme.yml", "acme").synced
    assert sink.held_by() == {"acme": {"a"}}
    assert old.read_text(encoding="utf-8") == NEW
    assert not (out / "shards" / "b" / "rules" / "acme.yml").exists()
    assert sink.former == {} and not (out / "shards" / "b").exists()

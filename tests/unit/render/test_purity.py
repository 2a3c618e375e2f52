"""Rendering is pure and deterministic: byte-identical for the same input, independent of
input and mapping order, and it never changes its input."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from alertplane.render import ALERTMANAGER_PATH, render
from alertplane.render.platform import PlatformConfig
from tests.support.factories import alert, receiver
from tests.support.render import (
    SMTP,
    do_render,
    objects,
)

# -- purity and determinism ----------------------------------------------------------


def _mixed_customers() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cid in ("acme", "globex", "initech"):
        out += [
            alert(cid, "HighErrorRate", labels={"team": "a", "svc": "b"}),
            alert(
                cid, "HostDown", category="infrastructure", expr=f'up{{customer_id="{cid}"}} == 0'
            ),
            alert(cid, "Quiet", enabled=False),
            receiver(cid, "oncall", route={"priority": 1, "match": {"severity": ["critical"]}}),
            receiver(cid, "team", route={"match": {"labels": {"team": "a", "env": "p"}}}),
            receiver(cid, "all", slack=[{"apiURLSecretRef": {"name": "s", "key": "k"}}]),
        ]
    return out


PLATFORM = {
    "alertmanager": {
        "global": SMTP,
        "defaultReceiver": {"webhook_configs": [{"url": "http://platform.example/"}]},
        "route": {"group_by": ["customer_id"]},
    }
}


def test_rendering_is_byte_identical_for_the_same_input() -> None:
    first = do_render(*_mixed_customers(), platform=PLATFORM).files()
    again = do_render(*_mixed_customers(), platform=PLATFORM).files()
    assert first == again
    assert set(first) == {
        "rules/acme.yml",
        "rules/globex.yml",
        "rules/initech.yml",
        ALERTMANAGER_PATH,
    }


@pytest.mark.parametrize("seed", range(8))
def test_rendering_does_not_depend_on_input_order(seed: int) -> None:
    manifests = _mixed_customers()
    expected = do_render(*manifests, platform=PLATFORM).files()
    shuffled = manifests[:]
    random.Random(seed).shuffle(shuffled)
    assert do_render(*shuffled, platform=PLATFORM).files() == expected


def test_rendering_does_not_depend_on_mapping_order_inside_specs() -> None:
    manifests = _mixed_customers()
    expected = do_render(*manifests, platform=PLATFORM).files()

    def reverse_dicts(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_dicts(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_dicts(v) for v in value]
        return value

    assert do_render(*map(reverse_dicts, manifests), platform=PLATFORM).files() == expected


def test_rendering_does_not_change_its_input() -> None:
    objs = objects(*_mixed_customers())
    before = [copy.deepcopy(o.model_dump()) for o in objs]
    platform = PlatformConfig.model_validate(PLATFORM)
    platform_before = platform.model_dump()
    render(objs, platform)
    render(objs, platform)
    assert [o.model_dump() for o in objs] == before
    assert platform.model_dump() == platform_before

"""`keep_customer_parts`: a customer with an invalid receiver keeps its part of the
previous alertmanager.yml (route subtree, receivers, inhibit rules); everything else comes
from the new rendering, in the order a normal render writes it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from alertplane.render.keep import keep_customer_parts
from alertplane.render.yamlout import GENERATED, dump
from tests.support.factories import alert, receiver
from tests.support.render import do_render


def am(*manifests: dict[str, Any]) -> str:
    return do_render(*manifests).alertmanager


OLD = am(receiver("acme"), receiver("acme", "pager"), receiver("globex"), alert("zeta"))
# acme's receivers changed (one renamed, one re-pointed); globex gained one.
NEW = am(
    receiver("acme", webhook=[{"url": "http://127.0.0.1:9097/changed"}]),
    receiver("acme", "sms"),
    receiver("globex"),
    receiver("globex", "email", webhook=[{"url": "http://127.0.0.1:9097/g2"}]),
    alert("zeta"),
)


def part(text: str, cid: str) -> tuple[list[Any], list[Any]]:
    data = yaml.safe_load(text)
    routes = [r for r in data["route"]["routes"] if r["matchers"] == [f'customer_id="{cid}"']]
    receivers = [r for r in data["receivers"] if r["name"].startswith(f"{cid}/")]
    return routes, receivers


def test_a_kept_customer_has_its_previous_part_and_the_others_their_new_one() -> None:
    merged = keep_customer_parts(OLD, NEW, {"acme"})
    assert merged.kept == ["acme"] and merged.unusable is None
    assert part(merged.text, "acme") == part(OLD, "acme")
    assert part(merged.text, "globex") == part(NEW, "globex")
    # Byte for byte what a normal render of old acme + new globex writes: same order.
    assert merged.text == am(
        receiver("acme"),
        receiver("acme", "pager"),
        receiver("globex"),
        receiver("globex", "email", webhook=[{"url": "http://127.0.0.1:9097/g2"}]),
        alert("zeta"),
    )


def test_a_customer_missing_from_the_new_rendering_is_put_back_in_order() -> None:
    new = am(receiver("globex"), alert("zeta"))  # every acme object was invalid
    merged = keep_customer_parts(OLD, new, {"acme"})
    assert merged.text == am(
        receiver("acme"), receiver("acme", "pager"), receiver("globex"), alert("zeta")
    )


def test_nothing_to_keep_leaves_the_rendering_as_it_is() -> None:
    assert keep_customer_parts(OLD, NEW, set()).text is NEW
    assert keep_customer_parts(None, NEW, {"acme"}).text is NEW
    # No previous part for the customer: its valid receivers are rendered.
    merged = keep_customer_parts(OLD, NEW, {"initech"})
    assert (merged.text, merged.kept, merged.unusable) == (NEW, [], None)


@pytest.mark.parametrize(
    ("previous", "why"),
    [
        ("route: {}\n", "it is not alertplane's (no generated header)"),
        ("", "it is not alertplane's (no generated header)"),
        (GENERATED + "route: [\n", "it cannot be parsed (line 3)"),
        (GENERATED + "- a\n", "it is not a mapping"),
        (GENERATED + "route: []\nreceivers: []\n", "its route is not alertplane's"),
        (GENERATED + "route: {routes: 3}\n", "its route is not alertplane's"),
        (GENERATED + "route: {}\nreceivers: [{x: 1}]\n", "its receivers are not a list"),
        (GENERATED + "route: {}\nreceivers: []\ninhibit_rules: 1\n", "its inhibit_rules"),
    ],
)
def test_an_unusable_previous_file_keeps_nothing_and_says_why(previous: str, why: str) -> None:
    merged = keep_customer_parts(previous, NEW, {"acme"})
    assert merged.text is NEW and merged.kept == []
    assert merged.unusable is not None and merged.unusable.startswith(why)


def test_unknown_owners_keep_only_customers_that_would_go_silent() -> None:
    # Some input was unreadable: acme (gone from the new rendering) keeps its receivers;
    # globex, which still has receivers, gets its new part.
    new = am(receiver("globex", webhook=[{"url": "http://127.0.0.1:9097/g3"}]), alert("zeta"))
    merged = keep_customer_parts(OLD, new, None)
    assert merged.kept == ["acme"]
    assert part(merged.text, "acme") == part(OLD, "acme")
    assert part(merged.text, "globex") == part(new, "globex")
    # zeta never had receivers: nothing of it is worth keeping.
    assert keep_customer_parts(OLD, am(receiver("acme"), receiver("globex")), None).kept == []


def test_a_kept_customers_inhibit_rules_come_along() -> None:
    mine = {"source_matchers": ['customer_id="acme"', "severity=critical"], "equal": ["x"]}
    platform = {"source_matchers": ["alertname=Maintenance"], "equal": ["cluster"]}
    theirs = {"target_matchers": ['customer_id="globex"'], "equal": ["y"]}
    data = yaml.safe_load(OLD)
    data["inhibit_rules"] = [platform, mine, theirs]
    merged = keep_customer_parts(dump(data, GENERATED), NEW, {"acme"})
    # The platform's and globex's rules follow the new rendering, which has none.
    assert yaml.safe_load(merged.text)["inhibit_rules"] == [mine]

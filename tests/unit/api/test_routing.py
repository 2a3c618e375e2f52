"""The route matcher behind POST /customers/{id}/routing/test, held to `amtool config routes
test` on random rendered configurations."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.model import CustomerReceiverSpec
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.routing import Matcher, RouteConfigError, parse_matcher, receivers_for
from alertplane.validate import tools


def test_parse_matcher() -> None:
    assert parse_matcher('severity="critical"') == Matcher("severity", "=", "critical")
    assert parse_matcher('a=~"x|y"') == Matcher("a", "=~", "x|y")
    assert parse_matcher("team != ops") == Matcher("team", "!=", "ops")
    assert parse_matcher(r'msg!~"say \"hi\"\\n"') == Matcher("msg", "!~", 'say "hi"\\n')
    assert parse_matcher(r'x="a\nb"').value == "a\nb"
    with pytest.raises(RouteConfigError):
        parse_matcher("=x")
    with pytest.raises(RouteConfigError):
        parse_matcher('x="open')


def test_matchers() -> None:
    assert Matcher("a", "=", "").matches({})  # a missing label is the empty string
    assert Matcher("a", "=~", "x|y").matches({"a": "y"})
    assert not Matcher("a", "=~", "x").matches({"a": "xx"})  # anchored
    assert Matcher("a", "!~", "x").matches({"a": "xx"})
    assert Matcher("a", "!=", "x").matches({})


def test_legacy_match_and_inherited_receivers() -> None:
    config = """
route:
  receiver: root
  routes:
    - match: {team: a}
      routes:
        - match_re: {severity: "crit.*"}
          receiver: pager
    - match: {team: b}
      receiver: b
      continue: true
    - receiver: catchall
"""
    assert receivers_for(config, {"team": "a", "severity": "critical"}) == ["pager"]
    assert receivers_for(config, {"team": "a"}) == ["root"]
    assert receivers_for(config, {"team": "b"}) == ["b", "catchall"]
    assert receivers_for(config, {}) == ["catchall"]


LABELS = ("team", "service")
VALUES = ("a", "b", 'q"uote')
severities = st.lists(st.sampled_from(["critical", "warning", "info"]), unique=True, max_size=2)
categories = st.lists(st.sampled_from(["application", "infrastructure"]), unique=True, max_size=2)


@st.composite
def receiver(draw: st.DrawFn, customer: str, name: str) -> CustomerReceiverSpec:
    route = {
        "priority": draw(st.integers(0, 3)),
        "continue": draw(st.booleans()),
        "match": {
            "severity": draw(severities),
            "category": draw(categories),
            "labels": draw(
                st.dictionaries(st.sampled_from(LABELS), st.sampled_from(VALUES), max_size=2)
            ),
        },
    }
    return CustomerReceiverSpec.model_validate(
        {
            "customerId": customer,
            "receiverName": name,
            "webhook": [{"url": "http://127.0.0.1:9/x"}],
            "route": route,
        }
    )


@st.composite
def setups(draw: st.DrawFn) -> dict[str, list[tuple[str, CustomerReceiverSpec]]]:
    out: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for cid in ("acme", "globex"):
        count = draw(st.integers(0, 4))
        out[cid] = [(cid, draw(receiver(cid, f"r{i}"))) for i in range(count)]
    return out


label_sets = st.fixed_dictionaries(
    {"customer_id": st.sampled_from(["acme", "globex", "other"])},
    optional={
        "severity": st.sampled_from(["critical", "warning", "info"]),
        "category": st.sampled_from(["application", "infrastructure"]),
        "team": st.sampled_from(VALUES),
        "service": st.sampled_from(VALUES),
    },
)


@pytest.mark.tools
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(customers=setups(), probes=st.lists(label_sets, min_size=1, max_size=4))
def test_matcher_agrees_with_amtool(
    tmp_path: Path,
    customers: dict[str, list[tuple[str, CustomerReceiverSpec]]],
    probes: list[dict[str, str]],
) -> None:
    config = render_alertmanager(customers, PlatformConfig())
    path = tmp_path / "alertmanager.yml"
    path.write_text(config, encoding="utf-8")
    for labels in probes:
        assert receivers_for(config, labels) == tools.routes_test(path, labels), (config, labels)

"""The route matcher behind POST /customers/{id}/routing/test (alertplane.routing): matchers,
legacy `match`, inherited receivers. tests/integration/test_routing_amtool.py holds it to
the real `amtool config routes test`."""

from __future__ import annotations

import pytest

from alertplane.routing import Matcher, RouteConfigError, parse_matcher, receivers_for


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

"""Matchers of an imported alertmanager.yml keep their values exactly.

The quoted value of a matcher (`team="café"`) was unescaped with `str.encode().decode(
"unicode_escape")`, which reads the UTF-8 bytes as Latin-1: `café` became `cafÃ©`, so the
imported route matched no alert and the customer's team silently got nothing (their alerts
fell through to the default receiver). Escapes (`\\"`, `\\\\`) must still be unescaped.
"""

from __future__ import annotations

import json

import pytest

from alertplane.importer.alerts import Options
from alertplane.importer.run import import_text

CONFIG = """
route:
  receiver: d
  routes:
  - matchers: [{matcher}]
    receiver: acme-team
receivers:
- name: d
- name: acme-team
  webhook_configs: [{{url: 'http://h.example/x'}}]
"""


@pytest.mark.parametrize(
    ("matcher", "value"),
    [
        ('team="café"', "café"),
        ('team="東京"', "東京"),
        ('team="😀 on-call"', "😀 on-call"),
        (r'team="a\"b"', 'a"b'),
        (r'team="a\\b"', "a\\b"),
        ("team=plain", "plain"),
    ],
)
def test_an_imported_matcher_keeps_its_value(matcher: str, value: str) -> None:
    text = CONFIG.format(matcher=json.dumps(matcher, ensure_ascii=False))
    result = import_text(text, "alertmanager.yml", Options(customer="acme"))
    assert result.refused == []
    routes = [m["spec"]["route"] for m in result.manifests if m["kind"] == "CustomerReceiver"]
    assert {"priority": 10, "match": {"labels": {"team": value}}} in routes

"""Label matcher values in the rendered routes, held to the real amtool."""

from __future__ import annotations

from pathlib import Path

import yaml

from alertplane.validate.tools import routes_test
from tests.support.factories import receiver
from tests.support.render import customer_routes, do_render


def test_label_matcher_values_are_escaped_and_match_only_themselves(tmp_path: Path) -> None:
    odd = 'C:\\logs\\"today".*'
    text = do_render(
        receiver(name="odd", route={"priority": 1, "match": {"labels": {"path": odd}}}),
        receiver(name="rest", route={"priority": 2}),
    ).alertmanager
    route = customer_routes(yaml.safe_load(text))[0]
    assert route["matchers"] == ['path="C:\\\\logs\\\\\\"today\\".*"']
    config = tmp_path / "alertmanager.yml"
    config.write_text(text, encoding="utf-8")
    # Alertmanager reads the value back literally: equality, not a regex.
    assert routes_test(config, {"customer_id": "acme", "path": odd}) == ["acme/odd"]
    assert routes_test(config, {"customer_id": "acme", "path": "C:\\logs\\x"}) == ["acme/rest"]

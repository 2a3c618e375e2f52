"""Rendering manifests built in a test (validated first, as every door does), and reading
the rendered rule files and alertmanager.yml back as data."""

from __future__ import annotations

from typing import Any

import yaml

from alertplane.model import Resource
from alertplane.render import Rendered, render
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_document, validate_objects
from alertplane.validate.schema import Parsed
from tests.support.factories import alert


def do_render(*manifests: dict[str, Any], platform: dict[str, Any] | None = None) -> Rendered:
    return render(objects(*manifests), PlatformConfig.model_validate(platform or {}))


def objects(*manifests: dict[str, Any]) -> list[Resource]:
    """Models of valid manifests (a test input that does not validate is a test bug)."""
    parsed: list[Parsed] = []
    for manifest in manifests:
        obj, problems = parse_document(manifest)
        assert obj is not None and not problems, [p.text() for p in problems]
        parsed.append(Parsed(obj))
    problems = validate_objects(
        parsed, PlatformConfig.model_validate({"alertmanager": {"global": SMTP}})
    )
    assert not problems, [f"{p.obj}: {p.text()}" for p in problems]
    return [p.obj for p in parsed]


SMTP = {"smtp_smarthost": "mail.example:25", "smtp_from": "alerts@platform.example"}


def customer_routes(config: dict[str, Any], customer: str = "acme") -> list[dict[str, Any]]:
    (subtree,) = [
        r for r in config["route"]["routes"] if r["matchers"] == [f'customer_id="{customer}"']
    ]
    routes: list[dict[str, Any]] = subtree.get("routes", [])
    return routes


def rules_of(*manifests: dict[str, Any], customer: str = "acme") -> dict[str, Any]:
    rendered = do_render(*manifests)
    data = yaml.safe_load(rendered.rules[f"rules/{customer}.yml"])
    assert isinstance(data, dict)
    return data


def one_rule(**spec: Any) -> dict[str, Any]:
    groups = rules_of(alert(**spec))["groups"]
    assert len(groups) == 1 and len(groups[0]["rules"]) == 1
    rule: dict[str, Any] = groups[0]["rules"][0]
    return rule


def am_of(*manifests: dict[str, Any], platform: dict[str, Any] | None = None) -> dict[str, Any]:
    data = yaml.safe_load(do_render(*manifests, platform=platform).alertmanager)
    assert isinstance(data, dict)
    return data


def receiver_config(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in config["receivers"] if r["name"] == name]
    assert isinstance(found, dict)
    return found

"""Rendering manifests built in a test, validated first as every door does."""

from __future__ import annotations

from typing import Any

from alertplane.model import Resource
from alertplane.render import Rendered, render
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_document, validate_objects
from alertplane.validate.schema import Parsed


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

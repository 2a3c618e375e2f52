"""Rendering: valid customer objects → rule files and one Alertmanager config (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..model import CustomerReceiver, CustomerReceiverSpec, Resource
from ..model.kinds import renders_rules
from .alertmanager import render_alertmanager
from .platform import PlatformConfig
from .rules import render_rules, rules_path

ALERTMANAGER_PATH = "alertmanager.yml"


@dataclass(frozen=True)
class Rendered:
    rules: dict[str, str]  # relative path (rules/<id>.yml) → file text
    alertmanager: str
    templates: dict[str, str] = field(default_factory=dict)  # templates/<id>.tmpl → text

    def files(self) -> dict[str, str]:
        return {**self.rules, ALERTMANAGER_PATH: self.alertmanager, **self.templates}


def template_path(customer_id: str) -> str:
    return f"templates/{customer_id}.tmpl"


def customers_of(objects: Iterable[Resource]) -> list[str]:
    return sorted({o.spec.customer_id for o in objects})


def render(objects: Iterable[Resource], platform: PlatformConfig | None = None) -> Rendered:
    """Render valid objects; callers pass only objects that passed validation."""
    platform = platform or PlatformConfig()
    objects = list(objects)
    ruled: dict[str, list[Resource]] = {}  # every kind rendered into the rules file
    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for obj in objects:
        cid = obj.spec.customer_id
        receivers.setdefault(cid, [])
        if renders_rules(obj.kind):
            ruled.setdefault(cid, []).append(obj)
        elif isinstance(obj, CustomerReceiver):
            receivers[cid].append((obj.metadata.namespace, obj.spec))
    rules: dict[str, str] = {}
    for cid in sorted(ruled):
        text = render_rules(cid, (o.spec for o in ruled[cid]))
        if text is not None:
            rules[rules_path(cid)] = text
    return Rendered(rules=rules, alertmanager=render_alertmanager(receivers, platform))

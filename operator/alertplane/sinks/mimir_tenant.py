"""One Mimir tenant's rules and Alertmanager configuration: read what Mimir holds of
alertplane's, push only what differs, and say whether Mimir serves what was pushed.

What Mimir holds is read once per tenant (`GET /prometheus/config/v1/rules`, `GET
/api/v1/alerts`) and then remembered as fingerprints (never the configuration itself: it
holds inlined secrets), so an unchanged customer costs no request and a changed one only
the groups that changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from ..render.mimir import Group, Namespaces, TenantConfig, group_text, is_ours, scrub
from ..render.yamlout import GENERATED
from .base import SinkError
from .mimir_client import Answer, MimirClient, json_object, quoted, said

RULES_CONFIG = "/prometheus/config/v1/rules"
RULES_LOADED = "/prometheus/api/v1/rules"
ALERTS_CONFIG = "/api/v1/alerts"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotSeparated(SinkError):
    """Mimir does not keep tenants apart: the platform's to fix, it fails every write."""


class Refused(SinkError):
    """Mimir answered a push with a 4xx: its words, scrubbed of secrets. Where it is not
    one customer's refusal (a DELETE), it fails the write like any SinkError."""


def _normal(value: Any) -> Any:
    """A group as data, without what Mimir's re-print adds or drops (empty maps, zero
    durations), so a group read back compares equal to the one written."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in sorted(value.items()) if v not in (None, {}, [], "0s")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def group_print(group: Group) -> str:
    return hashlib.sha256(json.dumps(_normal(group), sort_keys=True).encode()).hexdigest()


def config_print(config: str | None) -> str | None:
    return None if config is None else hashlib.sha256(config.encode()).hexdigest()


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None


def _read(client: MimirClient, path: str, tenant: str) -> Answer:
    """A read: 200, or 404 (nothing there). Anything else (401/403 from the gateway in
    front of Mimir, say) fails the write, not this customer alone: SinkError."""
    answer = client.call("GET", path, tenant)
    if answer.status not in (200, 404):
        where = f"Mimir at {client.base}: GET {path}"
        raise SinkError(f"{where} answered HTTP {answer.status}: {said(answer.text)}")
    return answer


class Tenant:
    """What alertplane knows of one tenant in Mimir."""

    def __init__(self, client: MimirClient, tenant: str) -> None:
        self.client = client
        self.id = tenant
        self.groups: dict[str, dict[str, str]] | None = None  # ns → group → print; None: unread
        self.config: str | None = None  # print of the Alertmanager configuration in Mimir
        self.config_read = False
        self.config_ours = False  # the configuration in Mimir is one alertplane wrote

    # -- rules ------------------------------------------------------------------------
    def _read_rules(self) -> dict[str, dict[str, str]]:
        if self.groups is None:
            answer = _read(self.client, RULES_CONFIG, self.id)
            data = _yaml(answer.text) if answer.status == 200 else None
            groups: dict[str, dict[str, str]] = {}
            for ns, held in (data or {}).items() if isinstance(data, dict) else ():
                if is_ours(str(ns)) and isinstance(held, list):
                    groups[str(ns)] = {
                        str(g.get("name")): group_print(g) for g in held if isinstance(g, dict)
                    }
            self._check_own(groups)
            self.groups = groups
        return self.groups

    def _check_own(self, groups: dict[str, dict[str, str]]) -> None:
        """alertplane names a customer's groups `<customerId>-…`: another's in this tenant
        means Mimir does not keep tenants apart (run without multitenancy, every request
        lands in `anonymous`; or a gateway rewriting X-Scope-OrgID). Pushing would delete
        the other customers' groups, so nothing is written (the whole write fails)."""
        foreign = sorted(
            f"{ns}/{name}"
            for ns, held in groups.items()
            for name in held
            if not name.startswith(f"{self.id}-")
        )
        if foreign:
            raise NotSeparated(
                f"Mimir answers tenant {self.id}'s rules with groups of other customers "
                f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}): it does not "
                "keep tenants apart; nothing is written. Run Mimir with "
                "-auth.multitenancy-enabled=true and make the gateway pass X-Scope-OrgID "
                "through (docs/mimir.md)"
            )

    def push_rules(self, want: Namespaces) -> tuple[bool, list[str]]:
        """Make alertplane's namespaces in Mimir `want`: changed groups posted, groups and
        namespaces no longer wanted deleted. (anything changed, Mimir's refusals)."""
        have = self._read_rules()
        changed, refusals = False, []
        for ns, groups in want.items():
            held = have.setdefault(ns, {})
            for group in groups:
                printed = group_print(group)
                if held.get(group["name"]) == printed:
                    continue
                path = f"{RULES_CONFIG}/{quoted(ns)}"
                answer = self.client.call("POST", path, self.id, group_text(group))
                if answer.status >= 300:
                    refusals.append(
                        f"Mimir refused rule group {group['name']} in namespace {ns} "
                        f"(HTTP {answer.status}): {said(answer.text)}; its "
                        "previous version stays"
                    )
                    continue
                held[group["name"]] = printed
                changed = True
            names = {g["name"] for g in groups}
            for name in sorted(set(held) - names):
                self._delete(f"{RULES_CONFIG}/{quoted(ns)}/{quoted(name)}")
                del held[name]
                changed = True
        for ns in sorted(set(have) - set(want)):
            self._delete(f"{RULES_CONFIG}/{quoted(ns)}")
            del have[ns]
            changed = True
        return changed, refusals

    def _delete(self, path: str) -> None:
        answer = self.client.call("DELETE", path, self.id)
        if answer.status >= 300 and answer.status != 404:  # gone already is what we want
            words = said(answer.text)
            raise Refused(f"Mimir refused DELETE {path} (HTTP {answer.status}): {words}")

    def loaded_rules(self) -> list[dict[str, Any]]:
        """The groups of alertplane's namespaces the ruler evaluates for this tenant."""
        answer = self.client.call("GET", RULES_LOADED, self.id)
        if answer.status == 404:
            return []
        if answer.status != 200:
            raise Refused(f"Mimir's rules API answered HTTP {answer.status}: {said(answer.text)}")
        data = json_object(answer, "Mimir's rules API").get("data")
        groups = data.get("groups") if isinstance(data, dict) else data
        if not isinstance(groups, list | None):
            raise SinkError(f"Mimir's rules API answered groups of type {type(groups).__name__}")
        return [g for g in groups or [] if isinstance(g, dict) and is_ours(str(g.get("file", "")))]

    # -- Alertmanager -----------------------------------------------------------------
    def _read_config(self) -> Answer:
        return _read(self.client, ALERTS_CONFIG, self.id)

    def held_config(self) -> str | None:
        """The print of the tenant's Alertmanager configuration Mimir answers now."""
        answer = self._read_config()
        data = _yaml(answer.text) if answer.status == 200 else None
        text = data.get("alertmanager_config") if isinstance(data, dict) else None
        self.config_ours = isinstance(text, str) and text.startswith(GENERATED)
        self.config_read = True
        self.config = config_print(text if isinstance(text, str) else None)
        return self.config

    def push_config(self, want: TenantConfig | None) -> bool:
        """Make the tenant's Alertmanager configuration `want` (None: remove the one
        alertplane wrote, never somebody else's). Raises Refused with Mimir's words."""
        have = self.config if self.config_read else self.held_config()
        if want is None:
            if have is None or not self.config_ours:
                return False
            answer = self.client.call("DELETE", ALERTS_CONFIG, self.id)
            if answer.status >= 300 and answer.status != 404:
                raise Refused(f"Mimir refused removing the configuration: {said(answer.text)}")
            self.config, self.config_ours = None, False
            return True
        printed = config_print(want.config)
        if have == printed:
            return False
        if have is not None and not self.config_ours:
            # A tenant somebody else configured (the platform's own, a migration not done):
            # a customer id that happens to match must not take its notifications over.
            raise Refused(
                f"Mimir tenant {self.id} has an Alertmanager configuration alertplane did not "
                "write; it is left alone. Remove it from Mimir (DELETE /api/v1/alerts as that "
                "tenant) to let alertplane manage it, or give this customer another id"
            )
        answer = self.client.call("POST", ALERTS_CONFIG, self.id, want.body)
        if answer.status >= 300:
            words = said(scrub(answer.text, want.secrets))
            raise Refused(
                f"Mimir refused the Alertmanager configuration (HTTP {answer.status}): {words}"
            )
        self.config, self.config_ours = printed, True
        return True

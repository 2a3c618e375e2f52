"""Grafana Mimir: one customer's rendered output as its Mimir tenant takes it (pure).

Each customer is a tenant (`X-Scope-OrgID: <customerId>`). Its rule file becomes one ruler
namespace per category (`alertplane-<category>`), each category's group split into groups
Mimir's per-tenant limits accept (`-ruler.max-rules-per-rule-group`, default 20, and
`-ruler.max-rule-groups-per-tenant`, default 70). Its receivers become the tenant's own
Alertmanager configuration: the customer's subtree of the shared `alertmanager.yml` under
the platform's root route and default receiver, with every secret inlined, since Mimir
refuses every `*_file` field (it cannot read files on its own disks for a tenant).

Splitting is deterministic (rules ordered by alert name, as rendered; the first group keeps
the category's name, the next ones `-2`, `-3`, …), so the same alerts always give the same
groups and an unchanged group is never pushed again. A group renamed or refilled restarts
its rules' `for` timers in Mimir (as a changed group does in Prometheus); adding alerts to a
customer of ≤ 20 per category never renames the first group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..model import CustomerReceiverSpec
from .alertmanager import PLATFORM_RECEIVER, customer_route, primitives_of, receiver_of
from .platform import PlatformConfig
from .secretfiles import SecretPathError, secret_ref_of
from .yamlout import GENERATED, dump

NAMESPACE_PREFIX = "alertplane-"
# Mimir's defaults (pkg/util/validation/limits.go): a tenant whose limits the platform
# raised or lowered needs the sink told the same (docs/mimir.md).
MAX_RULES_PER_GROUP, MAX_GROUPS_PER_TENANT = 20, 70
# The receiver fields that name a secret file, and the field Mimir takes the value in.
INLINED = {"api_url_file": "api_url", "routing_key_file": "routing_key"}

Group = dict[str, Any]
Namespaces = dict[str, list[Group]]  # ruler namespace → its groups, in order
# (folder, Secret name, key) → the secret's value; None: it does not exist
SecretLookup = Callable[[str, str, str], str | None]

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Limits:
    rules_per_group: int = MAX_RULES_PER_GROUP
    groups_per_tenant: int = MAX_GROUPS_PER_TENANT


class TooManyGroups(ValueError):
    """The customer's alerts need more rule groups than the tenant may hold."""


class MissingSecret(ValueError):
    """A receiver references a secret that cannot be read: its config cannot be built."""


def is_ours(namespace: str) -> bool:
    """Ruler namespaces alertplane writes (and so may delete); a tenant's other namespaces
    (written with mimirtool, say) are left alone."""
    return namespace.startswith(NAMESPACE_PREFIX)


def _category(customer_id: str, group_name: str) -> str:
    # render/rules.py names a customer's groups `<customerId>-<category>`.
    return group_name.removeprefix(f"{customer_id}-")


def _chunks(name: str, rules: list[Any], size: int) -> list[Group]:
    step = max(size, 1)
    parts = [rules[i : i + step] for i in range(0, len(rules), step)] or [[]]
    return [
        {"name": name if i == 0 else f"{name}-{i + 1}", "rules": part}
        for i, part in enumerate(parts)
    ]


def rule_namespaces(customer_id: str, text: str | None, limits: Limits = Limits()) -> Namespaces:
    """The rendered rule file (render/rules.py; None: no enabled alert) as ruler namespaces
    of bounded groups. Raises TooManyGroups when the tenant could not hold them."""
    if text is None:
        return {}
    data = yaml.load(text, Loader=_LOADER)  # our own rendering: a safe loader all the same
    out: Namespaces = {}
    for group in data.get("groups") or []:
        name = str(group["name"])
        namespace = NAMESPACE_PREFIX + _category(customer_id, name)
        out.setdefault(namespace, []).extend(
            _chunks(name, list(group.get("rules") or []), limits.rules_per_group)
        )
    count = sum(len(groups) for groups in out.values())
    if limits.groups_per_tenant and count > limits.groups_per_tenant:
        rules = sum(len(g["rules"]) for groups in out.values() for g in groups)
        raise TooManyGroups(
            f"its {rules} alerts need {count} rule groups of at most {limits.rules_per_group} "
            f"rules, more than the {limits.groups_per_tenant} Mimir allows a tenant "
            "(-ruler.max-rule-groups-per-tenant); the rules already in Mimir stay. Disable or "
            "delete alerts, or raise both limits in Mimir and alertplane (docs/mimir.md)"
        )
    return out


def group_text(group: Group) -> str:
    """The body of `POST /prometheus/config/v1/rules/{namespace}`: one group, as YAML."""
    return dump(group)


def namespace_text(groups: Sequence[Group]) -> str:
    """A namespace as a rule file (for comparing with what the ruler loaded)."""
    return dump({"groups": list(groups)})


@dataclass(frozen=True)
class TenantConfig:
    """The body of `POST /api/v1/alerts` for one tenant, and the secret values inlined in
    it: any text Mimir answers about it is scrubbed of them before it is shown anywhere."""

    # Never in a repr (a log line or a traceback): both hold the inlined secrets.
    body: str = field(repr=False)
    config: str = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)


def _inline(receiver: dict[str, Any], where: str, platform: PlatformConfig,
            lookup: SecretLookup, found: list[str]) -> None:  # fmt: skip
    for kind, configs in receiver.items():
        if not isinstance(configs, list):
            continue
        for i, cfg in enumerate(configs):
            for file_key, value_key in INLINED.items():
                path = cfg.pop(file_key, None)
                if path is None:
                    continue
                try:
                    folder, name, key = secret_ref_of(platform.secrets_dir, path)
                except SecretPathError as exc:
                    raise MissingSecret(f"{where}.{kind}[{i}]: {exc}") from exc
                value = lookup(folder, name, key)
                if value is None:
                    raise MissingSecret(
                        f"{where}.{kind}[{i}]: Secret {folder}/{name} has no key {key!r}; "
                        "create it (Mimir needs the value itself, not a file)"
                    )
                cfg[value_key] = value
                found.append(value)


def tenant_alertmanager(
    customer_id: str,
    receivers: Sequence[tuple[str, CustomerReceiverSpec]],
    platform: PlatformConfig,
    lookup: SecretLookup,
) -> TenantConfig:
    """The tenant's Alertmanager configuration: the platform's root route and default
    receiver, the customer's subtree (render/alertmanager.py: the same routes as in the
    shared alertmanager.yml) and its receivers with secrets inlined. Templates are inlined
    into each receiver already (docs/rendering.md), so `template_files` stays empty.
    Raises MissingSecret when a referenced secret cannot be read."""
    settings = platform.alertmanager
    root: dict[str, Any] = {"receiver": PLATFORM_RECEIVER}
    root.update(settings.route.model_dump(exclude_none=True))
    specs = [spec for _, spec in receivers]
    root["routes"] = [customer_route(customer_id, specs)]
    out: list[dict[str, Any]] = [{"name": PLATFORM_RECEIVER, **settings.default_receiver}]
    found: list[str] = []
    for folder, spec in sorted(receivers, key=lambda item: item[1].receiver_name):
        receiver = receiver_of(spec, folder, platform)
        _inline(receiver, f"receiver {spec.receiver_name}", platform, lookup, found)
        out.append(receiver)
    config: dict[str, Any] = {}
    if settings.global_:
        config["global"] = settings.global_
    config["route"] = root
    config["receivers"] = out
    config.update(primitives_of({customer_id: list(receivers)}))
    text = dump(config, GENERATED)  # marks it alertplane's: only ours is ever removed
    body = dump({"template_files": {}, "alertmanager_config": text})
    return TenantConfig(body, text, tuple(v for v in found if v))


def file_fields(data: Any, path: str = "") -> list[str]:
    """Every `*_file` key in platform settings (Mimir refuses them all), by path."""
    if isinstance(data, Mapping):
        found = []
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).endswith("_file"):
                found.append(here)
            found += file_fields(value, here)
        return found
    if isinstance(data, list):
        return [f for i, v in enumerate(data) for f in file_fields(v, f"{path}[{i}]")]
    return []


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}  # fmt: skip


def _go_quoted(value: str) -> str:
    """`value` as Go's strconv.Quote writes it, without the quotes: Mimir's url.Parse
    error quotes the URL that way (a trailing newline of a Secret made from a file)."""
    out = []
    for ch in value:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every inlined secret value replaced: Mimir's refusal of a configuration
    may quote a value (an unparsable URL: Go-quoted, so escaped), and its answer goes into
    statuses and logs. Scrub before reflowing whitespace: a value may hold some."""
    forms = {f for v in secrets if v for f in (v, _go_quoted(v), v.strip()) if f.strip()}
    for value in sorted(forms, key=len, reverse=True):
        text = text.replace(value, "<secret>")
    return text

"""The Alertmanager configuration prometheus-operator v0.85.0 builds from alertplane's
objects, rebuilt in Python (pure) so the goldens can go through the real amtool without
a cluster. Written from prometheus-operator's pkg/alertmanager/amcfg.go, not from
alertplane's renderer:

- `initializeFromAlertmanagerConfig`: the global AlertmanagerConfig (the Alertmanager's
  `spec.alertmanagerConfiguration.name`) becomes the base: its route is the root, its
  receivers are renamed `<namespace>/<name>/<receiver>` (`makeNamespacedString`);
- `AddAlertmanagerConfigs`: every other selected object, sorted by `<namespace>/<name>`,
  adds its top route as a first-level child with `continue: true` forced
  (`continueToNextRoute`; the `None` matcher strategy adds no matcher), BEFORE the base's
  own routes, and its receivers renamed the same way;
- `convertMatchersV2`: `name<op>"value"` with `\\`, newline and `"` escaped
  (`openMetricsEscape`); the CRD's camelCase fields are Alertmanager's snake_case keys;
  Secret references are replaced by the Secret's value (`store.GetSecretKey`);
  key/value lists (headers, details) become maps.

The e2e helper checks the same against the real prometheus-operator; this keeps a fast,
deterministic check of the objects alertplane writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

SecretValue = Callable[[str, str], str]  # (Secret name, key) → value

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z]+)")
_ROUTE_FIELDS = ("groupBy", "groupWait", "groupInterval", "repeatInterval", "continue")
_KEY_VALUE = ("headers", "details")


def snake(field: str) -> str:
    """The Alertmanager key of a CRD field: apiURL → api_url, requireTLS → require_tls."""
    return _CAMEL.sub(lambda m: "_" + m.group(1), field).lower()


def merged_config(
    namespace: str,
    base: tuple[str, Mapping[str, Any]],
    customers: Mapping[str, Mapping[str, Any]],
    secret: SecretValue,
) -> dict[str, Any]:
    """`base` is (name, spec) of the global AlertmanagerConfig; `customers` maps the name
    of every selected AlertmanagerConfig to its spec. All live in `namespace`."""
    base_name, base_spec = base
    root = _route(base_spec["route"], namespace, base_name)
    receivers = [_receiver(r, namespace, base_name, secret) for r in base_spec["receivers"]]
    tops = []
    for name in sorted(customers, key=lambda n: f"{namespace}/{n}"):
        spec = customers[name]
        if spec.get("route") is None:
            continue
        top = _route(spec["route"], namespace, name)
        top["continue"] = True
        tops.append(top)
        receivers += [_receiver(r, namespace, name, secret) for r in spec.get("receivers", [])]
    root["routes"] = tops + root.get("routes", [])
    return {"route": root, "receivers": receivers}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _route(node: Mapping[str, Any], namespace: str, owner: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.get("receiver"):
        out["receiver"] = f"{namespace}/{owner}/{node['receiver']}"
    for field in _ROUTE_FIELDS:
        if field in node:
            out[snake(field)] = node[field]
    matchers = [
        f'{m["name"]}{m["matchType"]}"{_escape(m["value"])}"' for m in node.get("matchers", [])
    ]
    if matchers:
        out["matchers"] = matchers
    children = [_route(child, namespace, owner) for child in node.get("routes", [])]
    if children:
        out["routes"] = children
    return out


def _receiver(
    node: Mapping[str, Any], namespace: str, owner: str, secret: SecretValue
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"{namespace}/{owner}/{node['name']}"}
    for field, configs in node.items():
        if field == "name":
            continue
        out[snake(field)] = [_config(cfg, secret) for cfg in configs]
    return out


def _config(cfg: Mapping[str, Any], secret: SecretValue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in cfg.items():
        if field in _KEY_VALUE:
            out[snake(field)] = {item["key"]: item["value"] for item in value}
        elif isinstance(value, Mapping) and set(value) == {"name", "key"}:
            out[snake(field)] = secret(value["name"], value["key"])
        else:
            out[snake(field)] = value
    return out


def normalize(receiver: str, namespace: str) -> str:
    """A receiver of the merged configuration by the name `alertplane render` gives it:
    `<ns>/alertplane-<id>/<r>` → `<id>/<r>`; the base's and every customer's copy of the
    default receiver → `platform-default`."""
    ns, _, rest = receiver.partition("/")
    owner, _, name = rest.partition("/")
    if ns != namespace or not name:
        return f"unexpected:{receiver}"
    if owner == "alertplane.platform" and name == "platform-default":
        return "platform-default"
    if not owner.startswith("alertplane-"):
        return f"unexpected:{receiver}"
    if name == "platform_default":
        return "platform-default"
    return f"{owner[len('alertplane-') :]}/{name}"

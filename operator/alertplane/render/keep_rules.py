"""A kept rule file keeps only rules that still want to be live (pure).

`alertplane render` keeps the previous rule file of a customer with an invalid alert or
recording rule (its last good output). Disabling and deleting must take effect whatever
else the input says, so a rule the input disables, or no longer holds, leaves the kept file.
Rules are told apart by their kind's key in the file (`alert:`, `record:`) and name, and
only in the groups their kind renders (render/rules.py's RULE_KINDS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..manifests import claimed_customer
from ..model import NAME_FIELDS
from .rules import RULE_KINDS
from .yamlout import GENERATED, dump

# A rule as the input names it: its key in the file (alert, record, slo), its name and,
# for alerts, its severity. A warning/critical pair shares the name, so disabling one of
# the two must drop only that one; None for an alert document whose severity is not a
# string (it may be either: enabled keeps, disabled drops both) and for other kinds.
Key = tuple[str, str, str | None]
_KEYS = {k.kind: (k.rule_key, NAME_FIELDS[k.kind]) for k in RULE_KINDS}


@dataclass
class Wanted:
    """What the input says of one customer's rules (alerts, recording rules)."""

    disabled: set[Key] = field(default_factory=set)
    enabled: set[Key] = field(default_factory=set)
    # False when some rule document names no rule: an absent name may be that one.
    complete: bool = True

    def drops(self, key: Key) -> bool:
        any_severity = (key[0], key[1], None)
        if any_severity in self.enabled or key in self.enabled:
            return False
        if key in self.disabled or any_severity in self.disabled:
            return True
        # The name wanted at another severity: a severity change of the same alert (its
        # last good rule stays) cannot be told from a removed pair partner here; both keep.
        wanted_names = {(k, n) for k, n, _ in self.enabled | self.disabled}
        return self.complete and (key[0], key[1]) not in wanted_names


def wanted_alerts(
    documents: Iterable[Any], customer_of: Callable[[dict[str, Any]], str | None]
) -> dict[str, Wanted]:
    """Per customer, from the raw documents (valid or not): the rules disabled and the
    rules wanted live. `customer_of` says which customer a document claims."""
    out: dict[str, Wanted] = {}
    for data in documents:
        keys = _KEYS.get(str(data.get("kind"))) if isinstance(data, dict) else None
        if keys is None:
            continue
        cid = customer_of(data)
        if cid is None:
            continue
        wanted = out.setdefault(cid, Wanted())
        spec = data.get("spec")
        name = spec.get(keys[1]) if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(name, str):
            wanted.complete = False
            continue
        severity = spec.get("severity") if keys[0] == "alert" else None
        key = (keys[0], name, severity if isinstance(severity, str) else None)
        if spec.get("enabled") is False:
            wanted.disabled.add(key)
        else:
            wanted.enabled.add(key)
    return out


def prune_rules(
    previous: str, wanted: Wanted, customer_id: str | None = None
) -> tuple[str, list[str]]:
    """`previous` without the rules `wanted` drops, and their names; the text is
    `previous` itself when nothing is dropped or it is not a rule file alertplane wrote.
    With `customer_id`, only groups a kind of the table renders are pruned (rules of
    other groups belong to no object by their name)."""
    if not previous.startswith(GENERATED):
        return previous, []
    try:
        data = yaml.safe_load(previous)
    except yaml.YAMLError:
        return previous, []
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(_is_group(g) for g in groups):
        return previous, []
    dropped: set[Key] = set()  # a pair's two alerts are two names; an SLO's rules one
    kept_groups = []
    for group in groups:
        rules = []
        keys = _group_keys(group, customer_id)
        for rule in group["rules"]:
            key = _key_of(rule, keys)
            if key is not None and wanted.drops(key):
                dropped.add(key)
            else:
                rules.append(rule)
        if rules:
            kept_groups.append({**group, "rules": rules})
    if not dropped:
        return previous, []
    header = previous[: _header_end(previous)]
    return dump({"groups": kept_groups}, header), sorted(k[1] for k in dropped)


def _group_keys(group: dict[str, Any], customer_id: str | None) -> tuple[str, ...]:
    """The rule keys an object of the table may own in this group."""
    if customer_id is None:
        return tuple(k.rule_key for k in RULE_KINDS)
    name = str(group.get("name"))
    return tuple(k.rule_key for k in RULE_KINDS if k.owns_group(customer_id, name))


def _key_of(rule: object, keys: tuple[str, ...]) -> Key | None:
    if not isinstance(rule, dict):
        return None
    for key in keys:
        # An SLO's rules (records and alerts alike) are its by their `slo` label
        # (render/slo.py), in the groups its kind owns.
        labels = rule.get("labels")
        slo = labels.get("slo") if isinstance(labels, dict) else None
        found = rule.get(key) if key != "slo" else slo
        if isinstance(found, str):
            return key, found, _severity(rule) if key == "alert" else None
    return None


def _severity(rule: dict[str, Any]) -> str | None:
    labels = rule.get("labels")
    value = labels.get("severity") if isinstance(labels, dict) else None
    return value if isinstance(value, str) else None


def _is_group(group: object) -> bool:
    return isinstance(group, dict) and isinstance(group.get("rules"), list)


def _header_end(text: str) -> int:
    """Length of the leading comment lines (the generated header and the customer line)."""
    end = 0
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        end += len(line)
    return end


def present_receivers(documents: Iterable[Any]) -> dict[str, set[str]]:
    """Per customer, the receiver names the input holds (valid or not); a customer with a
    receiver document that names no receiver is left out (any name may be that one)."""
    out: dict[str, set[str]] = {}
    unnamed: set[str] = set()
    for doc in documents:
        data = getattr(doc, "data", doc)
        if not isinstance(data, dict) or data.get("kind") != "CustomerReceiver":
            continue
        cid = claimed_customer(data)
        if cid is None:
            continue
        spec = data.get("spec")
        name = spec.get("receiverName") if isinstance(spec, dict) else None
        if isinstance(name, str):
            out.setdefault(cid, set()).add(name)
        else:
            unnamed.add(cid)
    return {cid: names for cid, names in out.items() if cid not in unnamed}

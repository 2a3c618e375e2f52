"""A kept rule file keeps only alerts that still want to be live (pure).

`alertplane render` keeps the previous rule file of a customer with an invalid alert (its
last good output). Disabling and deleting must take effect whatever else the input says,
so an alert the input disables, or no longer holds, leaves the kept file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..manifests import claimed_customer
from .yamlout import GENERATED, dump

# An alert as the input names it: (alertName, severity). A warning/critical pair shares
# the name, so disabling one of the two must drop only that one; None for a document
# whose severity is not a string (it may be either: enabled keeps, disabled drops both).
Key = tuple[str, str | None]


@dataclass
class Wanted:
    """What the input says of one customer's alerts."""

    disabled: set[Key] = field(default_factory=set)
    enabled: set[Key] = field(default_factory=set)
    # False when some alert document names no alert: an absent name may be that one.
    complete: bool = True

    def drops(self, name: str, severity: str | None) -> bool:
        key, any_severity = (name, severity), (name, None)
        if any_severity in self.enabled or key in self.enabled:
            return False
        if key in self.disabled or any_severity in self.disabled:
            return True
        # The name wanted at another severity: a severity change of the same alert (its
        # last good rule stays) cannot be told from a removed pair partner here; both keep.
        wanted_names = {n for n, _ in self.enabled | self.disabled}
        return self.complete and name not in wanted_names


def wanted_alerts(
    documents: Iterable[Any], customer_of: Callable[[dict[str, Any]], str | None]
) -> dict[str, Wanted]:
    """Per customer, from the raw documents (valid or not): the alerts disabled and the
    alerts wanted live. `customer_of` says which customer a document claims."""
    out: dict[str, Wanted] = {}
    for data in documents:
        if not isinstance(data, dict) or data.get("kind") != "CustomerAlert":
            continue
        cid = customer_of(data)
        if cid is None:
            continue
        wanted = out.setdefault(cid, Wanted())
        spec = data.get("spec")
        name = spec.get("alertName") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(name, str):
            wanted.complete = False
            continue
        severity = spec.get("severity")
        key = (name, severity if isinstance(severity, str) else None)
        if spec.get("enabled") is False:
            wanted.disabled.add(key)
        else:
            wanted.enabled.add(key)
    return out


def prune_rules(previous: str, wanted: Wanted) -> tuple[str, list[str]]:
    """`previous` without the rules `wanted` drops, and their names; the text is
    `previous` itself when nothing is dropped or it is not a rule file alertplane wrote."""
    if not previous.startswith(GENERATED):
        return previous, []
    try:
        data = yaml.safe_load(previous)
    except yaml.YAMLError:
        return previous, []
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(_is_group(g) for g in groups):
        return previous, []
    dropped: list[str] = []
    kept_groups = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            name = rule.get("alert") if isinstance(rule, dict) else None
            if isinstance(name, str) and wanted.drops(name, _severity(rule)):
                dropped.append(name)
            else:
                rules.append(rule)
        if rules:
            kept_groups.append({**group, "rules": rules})
    if not dropped:
        return previous, []
    header = previous[: _header_end(previous)]
    return dump({"groups": kept_groups}, header), sorted(dropped)


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

"""Tenant binding: a namespace may only hold resources of the customers it is bound to.

The platform team labels each namespace `alertplane.io/customer: acme`; namespace RBAC then
is tenant RBAC, because nobody can declare another customer's alerts from a namespace they
may write to. Label values cannot hold commas, so several customers are separated by "."
(`acme.globex`; customer ids never contain dots), or listed comma-separated in the
annotation of the same name. The label and the annotation add up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import Problem

BINDING_KEY = "alertplane.io/customer"
_SEPARATORS = re.compile(r"[,.\s]+")


def binding_of(meta: dict[str, Any]) -> str | None:
    """The namespace's binding as written (label, annotation); None when it has neither."""
    values = [
        str(where[BINDING_KEY])
        for where in (meta.get("labels") or {}, meta.get("annotations") or {})
        if BINDING_KEY in where
    ]
    return ",".join(values) if values else None


def bound_customers(binding: str | None) -> list[str] | None:
    if binding is None:
        return None
    return sorted({c for c in _SEPARATORS.split(binding) if c})


# (channel list, reference field) of the spec fields that name a Secret of the namespace.
SECRET_REFS = (("slack", "apiURLSecretRef"), ("pagerduty", "routingKeySecretRef"))


def binding_problem(
    namespace: str,
    customer_id: str,
    binding: str | None,
    spec: Mapping[str, Any] | None = None,
) -> Problem | None:
    """Why the namespace may not hold this customer's object (None: it may). With the
    object's `spec` (camelCase), also its Secret references: see `shared_secret_problem`."""
    bound = bound_customers(binding)
    if bound is not None and customer_id in bound:
        return None if spec is None else shared_secret_problem(namespace, customer_id, bound, spec)
    if bound is None:
        where = f'namespace "{namespace}" has no label {BINDING_KEY}'
        hint = (
            f"ask the platform team to label it {BINDING_KEY}={customer_id}, or create the "
            f"resource in a namespace bound to {customer_id}"
        )
    else:
        where = (
            f'namespace "{namespace}" is bound to {", ".join(bound) or "no customer"} '
            f'({BINDING_KEY}="{binding}")'
        )
        hint = (
            f"create the resource in a namespace bound to {customer_id}, or ask the "
            f"platform team to add {customer_id} to the namespace's {BINDING_KEY} label"
        )
    return Problem(
        "spec.customerId",
        f'{where}, so it may not hold resources of customer "{customer_id}"',
        hint,
    )


def shared_secret_problem(
    namespace: str, customer_id: str, bound: list[str], spec: Mapping[str, Any]
) -> Problem | None:
    """A namespace bound to several customers holds the Secrets of all of them, and a
    reference names a Secret of the receiver's namespace: there, acme's receiver could use
    globex's Slack webhook. So in a shared namespace each Secret belongs to the customer
    whose id prefixes its name (`acme-slack`, `acme.slack`), the longest such id of the
    customers bound there (`acme-x-slack` is acme-x's, not acme's), and a customer's
    references must name its own. The reference's value is not quoted (it may be a pasted
    secret)."""
    if len(bound) < 2:
        return None
    for channel, field in SECRET_REFS:
        configs = spec.get(channel)
        for i, cfg in enumerate(configs if isinstance(configs, list) else []):
            ref = cfg.get(field) if isinstance(cfg, dict) else None
            name = ref.get("name") if isinstance(ref, dict) else None
            if isinstance(name, str) and secret_owner(name, bound) != customer_id:
                return Problem(
                    f"spec.{channel}[{i}].{field}.name",
                    f'namespace "{namespace}" is shared by {", ".join(bound)}, so a Secret '
                    f'reference of customer "{customer_id}" must name one of its Secrets, '
                    f'"{customer_id}-<name>"',
                    f"name the Secret {customer_id}-<name> in namespace {namespace}, or move "
                    f"the receiver to a namespace bound to {customer_id} alone",
                )
    return None


def secret_owner(name: str, bound: list[str]) -> str | None:
    """The customer a Secret of a shared namespace belongs to: the longest bound customer id
    that prefixes its name followed by '-' or '.'."""
    owners = [c for c in bound if name.startswith((f"{c}-", f"{c}."))]
    return max(owners, key=len, default=None)

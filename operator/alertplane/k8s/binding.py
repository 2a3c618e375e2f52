"""Tenant binding: a namespace may only hold resources of the customers it is bound to.

The platform team labels each namespace `alertplane.io/customer: acme`; namespace RBAC then
is tenant RBAC, because nobody can declare another customer's alerts from a namespace they
may write to. Label values cannot hold commas, so several customers are separated by "."
(`acme.globex`; customer ids never contain dots), or listed comma-separated in the
annotation of the same name. The label and the annotation add up.
"""

from __future__ import annotations

import re
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


def binding_problem(namespace: str, customer_id: str, binding: str | None) -> Problem | None:
    bound = bound_customers(binding)
    if bound is not None and customer_id in bound:
        return None
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

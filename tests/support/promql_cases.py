"""PromQL for the isolation tests: the messages the tenant check gives (one helper per
kind), its verdict on one expression, and promtool as the judge of syntax."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alertplane.validate import tools
from alertplane.validate.promql import check_expr

OWN = "acme"
HINT_MISSING = 'add customer_id="acme" inside its braces'
HINT_OP = 'use customer_id="acme" (equality); a customer may only select its own series'
HINT_FOREIGN = 'an alert of customer acme may only select customer_id="acme"'
NO_SERIES = "expression selects no series, so it cannot be tied to this customer"
HINT_NO_SERIES = 'select a metric with customer_id="acme", e.g. up{customer_id="acme"} == 0'
INVALID_HINT = "fix the expression; it must be valid Prometheus PromQL"


def missing(sel: str) -> tuple[str, str]:
    return (f'selector {sel} has no customer_id="acme" matcher', HINT_MISSING)


def op(sel: str, operator: str) -> tuple[str, str]:
    return (f"selector {sel} matches customer_id with {operator}", HINT_OP)


def foreign(sel: str, value: str) -> tuple[str, str]:
    return (f"selector {sel} selects customer {json.dumps(value)}", HINT_FOREIGN)


def verdict(expr: str, customer: str = OWN) -> list[tuple[str, str]]:
    problems = check_expr(expr, customer)
    assert all(p.path == "spec.expr" for p in problems)
    return [(p.message, p.hint) for p in problems]


def promtool_accepts(exprs: Sequence[str]) -> tuple[bool, str]:
    """One `promtool check rules` over one file holding every expression as a rule."""
    rules = [{"alert": f"E{i}", "expr": e} for i, e in enumerate(exprs)]
    with tempfile.TemporaryDirectory(prefix="isolation-promql-") as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(json.dumps({"groups": [{"name": "g", "rules": rules}]}), "utf-8")
        result = tools.check_rules([path])
    expected = f"SUCCESS: {len(exprs)} rules found"
    return result.ok and expected in result.output, result.output

"""Checks of a CustomerRecordingRule that a JSON schema cannot express.

Its expression passes the very isolation check of an alert's (every selector carries the
customer's customer_id), so what it records is computed from the customer's own series
only; the rendered rule's labels force customer_id (render/rules.py), so a label of that
name is refused rather than silently replaced.
"""

from __future__ import annotations

from ..errors import Problem
from ..model import RECORDING_RESERVED_LABELS, CustomerRecordingRule
from ..model.common import is_label_name
from .promql import check_expr
from .unicode import path_key


def check_recording_rule(obj: CustomerRecordingRule) -> list[Problem]:
    spec = obj.spec
    problems = check_expr(spec.expr, spec.customer_id)
    for key in spec.labels:
        path = f"spec.labels.{path_key(key)}"
        if key in RECORDING_RESERVED_LABELS:
            problems.append(
                Problem(
                    path,
                    f"label {key!r} is set by alertplane",
                    "remove it; every recorded series carries spec.customerId as customer_id",
                )
            )
        elif not is_label_name(key):
            problems.append(
                Problem(
                    path,
                    f"{key!r} is not a valid label name",
                    "use letters, digits and '_', not starting with a digit or '__'",
                )
            )
    return problems

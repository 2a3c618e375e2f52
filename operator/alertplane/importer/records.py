"""Recording rules → CustomerRecordingRule manifests (issue 14 §2): the customer each rule
belongs to, the tenant matcher injected on the parse tree (inject.py) like an alert's,
customer_id taken out of the labels (alertplane forces it on every recorded series).

The record name is kept as written, since the alerts that read the series name it; a name
without a colon (which alertplane refuses, model/recording.py) is refused here with that
reason rather than renamed under the readers' feet.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..model.common import is_label_name
from ..model.recording import CustomerRecordingRuleSpec
from .alerts import API_VERSION, Converted, Options, customer_of
from .inject import Refused, inject
from .naming import Names
from .sources import Rule


def convert_record(rule: Rule, options: Options, names: Names) -> Converted:
    """One recording rule as a CustomerRecordingRule manifest; Refused (with the reason)."""
    cid = customer_of(rule, options)
    data = rule.data
    record = str(data["record"])
    problem = _record_problem(record)
    if problem:
        raise Refused(problem)
    labels = {k: str(v) for k, v in (data.get("labels") or {}).items()}
    found = labels.pop("customer_id", None)
    if found is not None and found != cid:
        raise Refused(f"its label customer_id={found!r} names another customer than {cid!r}")
    if options.customer_label and options.customer_label != "namespace":
        labels.pop(options.customer_label, None)  # now customer_id, set by alertplane
    for key in labels:  # `__name__` would rename the recorded series; Prometheus refuses it
        if not is_label_name(key):
            raise Refused(
                f"its label {key!r} is not a valid label name; use letters, digits and '_', "
                "not starting with a digit or '__'"
            )
    expr = inject(str(data["expr"]).strip("\n"), cid)
    spec: dict[str, Any] = {"customerId": cid, "record": record}
    spec["expr"] = expr + "\n" if "\n" in expr else expr
    if labels:
        spec["labels"] = dict(sorted(labels.items()))
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "CustomerRecordingRule",
        "metadata": {"name": names.take(cid, record, "record"), "namespace": cid},
        "spec": spec,
    }
    return Converted(rule.where, cid, manifest)


def _record_problem(record: str) -> str:
    """The model's own words about a record name it refuses ('' when it takes it)."""
    try:
        CustomerRecordingRuleSpec.model_validate({"customerId": "x", "record": record, "expr": "1"})
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", exc))
        if ":" not in record:
            return f"record {message}; rename it and the rules that read it, e.g. to ':{record}'"
        return f"record {message}"
    return ""

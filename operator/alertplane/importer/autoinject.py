"""`autoInject: true` on a CustomerAlert or CustomerRecordingRule (DESIGN, Isolation 1):
admission adds the tenant
matcher to every selector that lacks it with the importer's injector, before the isolation
check, so what is checked, stored and rendered is the injected expression. What the
injector refuses (another customer's id, a regex on customer_id, no selector at all) is
left as written, and the isolation check refuses it with its usual message: autoInject
never widens what an alert may select."""

from __future__ import annotations

from dataclasses import replace

from ..model.alert import CustomerAlert
from ..model.recording import CustomerRecordingRule
from ..model.slo import CustomerSLO
from ..validate.schema import Parsed
from .inject import Refused, inject
from .slo_inject import slo_auto_injected


def auto_injected(item: Parsed) -> Parsed:
    obj = item.obj
    if isinstance(obj, CustomerSLO):  # its queries (importer/slo_inject.py)
        done = slo_auto_injected(obj)
        return item if done is obj else replace(item, obj=done)
    if not isinstance(obj, CustomerAlert | CustomerRecordingRule) or not obj.spec.auto_inject:
        return item
    if obj.spec.expr is None or getattr(obj.spec, "template", None) is not None:
        return item  # a template's expression is injected where it is made (templated.py)
    try:
        expr = inject(obj.spec.expr, obj.spec.customer_id)
    except Refused:
        return item
    if expr == obj.spec.expr:
        return item
    spec = obj.spec.model_copy(update={"expr": expr})
    return replace(item, obj=obj.model_copy(update={"spec": spec}))

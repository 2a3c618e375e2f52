"""`spec.template` at admission: the catalogue template instantiated (validate/catalogue.py)
and tied to the customer with the importer's injector, before any other check, so what is
checked, stored and rendered is the template's expression — the same way `autoInject`
works (autoinject.py).

What the template gives and what the alert keeps (docs/authoring.md):

- `expr` is the platform's: rewritten from the template at every admission, so a template
  the platform fixes reaches every alert at the next sync; a value sent with a template is
  replaced;
- `for` too when the template sets it (its range is the template's to keep; the alert's
  own `for` counts only for templates without one);
- labels and annotations are the template's defaults: the alert's own values win, and
  what the alert leaves unset is filled in from the template.

A template that cannot be instantiated (unknown name, a parameter missing, of the wrong
type or out of range) leaves the object as written, with the problems to report.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from ..errors import Problem
from ..model import Resource
from ..model.alert import Annotations, CustomerAlert
from ..model.recording import CustomerRecordingRule
from ..render.platform import PlatformConfig
from ..validate.catalogue import Instance, instantiate
from ..validate.promql import check_expr
from ..validate.schema import Parsed
from .autoinject import auto_injected
from .inject import inject


def templated(
    parsed: list[Parsed], platform: PlatformConfig | None
) -> tuple[list[Parsed], list[Problem]]:
    out: list[Parsed] = []
    problems: list[Problem] = []
    for item in parsed:
        obj = item.obj
        if not isinstance(obj, CustomerAlert) or obj.spec.template is None:
            out.append(item)
            continue
        instance, found = instantiate(obj.spec, platform)
        problems.extend(p.at(item.ref, item.source) for p in found)
        out.append(item if instance is None else replace(item, obj=_applied(obj, instance)))
    return out, problems


@functools.lru_cache(maxsize=4096)
def _injected(expr: str, customer_id: str) -> str:
    """Cached: the reconciler admits the same instances on every sync of a customer, and
    the injector proves each result on the parse tree (milliseconds per expression)."""
    try:
        return inject(expr, customer_id)
    except ValueError:
        return expr  # the isolation check says why, as for any expression


def _applied(obj: CustomerAlert, instance: Instance) -> CustomerAlert:
    spec = obj.spec
    expr = _injected(instance.expr, spec.customer_id)
    annotations = {**instance.annotations, **_by_alias(spec.annotations)}
    update = {
        "expr": expr,
        "for_": instance.for_ if instance.for_ is not None else spec.for_,
        "labels": {**instance.labels, **spec.labels},
        "annotations": Annotations.model_validate(annotations),
    }
    return obj.model_copy(update={"spec": spec.model_copy(update=update)})


def _by_alias(annotations: Annotations) -> dict[str, str]:
    return {
        k: v
        for k, v in annotations.model_dump(by_alias=True, exclude_none=True).items()
        if isinstance(v, str)
    }


def readmitted(obj: Resource | None, platform: PlatformConfig | None) -> Resource | None:
    """A last valid version (sync_assess.live_version) as admission takes it now.

    The status keeps a last valid spec as the object holds it — in Kubernetes, as the user
    wrote it: `autoInject` not applied, a template not instantiated. Rendered as is, an
    injected alert would select every customer's series and a templated one would have no
    expression; so it goes through the same two steps, and the result must pass the
    isolation check (a template the platform changed since), else nothing of it is live.
    """
    if isinstance(obj, CustomerRecordingRule):  # autoInject, the same way
        again = auto_injected(Parsed(obj)).obj
        assert isinstance(again, CustomerRecordingRule)
        return None if check_expr(again.spec.expr, again.spec.customer_id) else again
    if not isinstance(obj, CustomerAlert):
        return obj
    items, problems = templated([auto_injected(Parsed(obj))], platform)
    spec = items[0].obj.spec if isinstance(items[0].obj, CustomerAlert) else None
    if problems or spec is None or spec.expr is None:
        return None
    if check_expr(spec.expr, spec.customer_id):
        return None
    return items[0].obj

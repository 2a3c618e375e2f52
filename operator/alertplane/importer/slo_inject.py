"""`autoInject: true` on a CustomerSLO: the tenant matcher added to every selector of its SLI
queries that lacks it, as on an alert's expr (importer/autoinject.py).

The injector parses PromQL, which `[{{.window}}]` is not; each placeholder is swapped for a
range the query does not otherwise contain, the query injected, and the range swapped back
(the injector changes text only inside selectors' braces, so the range survives as
written). What the injector refuses is left as written: the isolation check then refuses
it with its usual message, so autoInject never widens what an SLO may select.
"""

from __future__ import annotations

from ..model.slo import CustomerSLO
from ..render.slo import PLACEHOLDER
from .inject import Refused, inject

_WINDOW = "[{{.window}}]"


def _stand_in(query: str) -> str:
    """A range in the same spelling family that appears nowhere in the query."""
    n = 7
    while f"[{n}s]" in query:
        n = n * 10 + 7
    return f"[{n}s]"


def inject_query(query: str, customer_id: str) -> str:
    """The query with the tenant matcher on every selector; as written when refused."""
    if "{{" in PLACEHOLDER.sub("", query):
        return query  # the placeholder rule refuses it (validate/slo.py)
    stand_in = _stand_in(query)
    try:
        done = inject(PLACEHOLDER.sub(stand_in, query), customer_id)
    except Refused:
        return query
    return done.replace(stand_in, _WINDOW)


def slo_auto_injected(obj: CustomerSLO) -> CustomerSLO:
    spec = obj.spec
    if not spec.auto_inject:
        return obj
    events = spec.sli.events
    update = {}
    for attr in ("error_query", "good_query", "total_query"):
        query = getattr(events, attr)
        if query is not None:
            injected = inject_query(query, spec.customer_id)
            if injected != query:
                update[attr] = injected
    if not update:
        return obj
    sli = spec.sli.model_copy(update={"events": events.model_copy(update=update)})
    return obj.model_copy(update={"spec": spec.model_copy(update={"sli": sli})})

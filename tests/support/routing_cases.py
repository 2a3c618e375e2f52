"""Random customers, receivers, routes and label sets (hypothesis strategies) for the
route-matching tests."""

from __future__ import annotations

from hypothesis import strategies as st

from alertplane.model import CustomerReceiverSpec

VALUES = ("a", "b", 'q"uote')


LABELS = ("team", "service")


severities = st.lists(st.sampled_from(["critical", "warning", "info"]), unique=True, max_size=2)


categories = st.lists(st.sampled_from(["application", "infrastructure"]), unique=True, max_size=2)


@st.composite
def receiver(draw: st.DrawFn, customer: str, name: str) -> CustomerReceiverSpec:
    route = {
        "priority": draw(st.integers(0, 3)),
        "continue": draw(st.booleans()),
        "match": {
            "severity": draw(severities),
            "category": draw(categories),
            "labels": draw(
                st.dictionaries(st.sampled_from(LABELS), st.sampled_from(VALUES), max_size=2)
            ),
        },
    }
    return CustomerReceiverSpec.model_validate(
        {
            "customerId": customer,
            "receiverName": name,
            "webhook": [{"url": "http://127.0.0.1:9/x"}],
            "route": route,
        }
    )


@st.composite
def setups(draw: st.DrawFn) -> dict[str, list[tuple[str, CustomerReceiverSpec]]]:
    out: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for cid in ("acme", "globex"):
        count = draw(st.integers(0, 4))
        out[cid] = [(cid, draw(receiver(cid, f"r{i}"))) for i in range(count)]
    return out


label_sets = st.fixed_dictionaries(
    {"customer_id": st.sampled_from(["acme", "globex", "other"])},
    optional={
        "severity": st.sampled_from(["critical", "warning", "info"]),
        "category": st.sampled_from(["application", "infrastructure"]),
        "team": st.sampled_from(VALUES),
        "service": st.sampled_from(VALUES),
    },
)

"""`alertplane render`'s evaluation in chunks of customers, like the reconciler's passes.

Evaluating every document at once kept every parsed document and every model alive until
the end: ~11 MB per 1,000 rules (1.1 GB at 100,000). Customers are independent, so here
the documents are kept packed (pickled: exact for anything YAML loads) and evaluated a
chunk of customers at a time; a chunk leaves behind its rule files (text), its problems
and its valid receivers (alertmanager.yml is one file, rendered from all of them at the
end). What must be checked together stays together: the documents of one customer, and
any two that name the same object (kind, namespace, name: a duplicate across customers),
are in one chunk, in input order, so the later of two duplicates is still the one refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .core import evaluate
from .errors import ObjectRef, Problem
from .manifests import Document, Loaded, claimed_customer, load_paths
from .model import CustomerReceiver, CustomerReceiverSpec, Resource
from .model.kinds import renders_rules
from .render import Rendered
from .render.alertmanager import render_alertmanager
from .render.platform import PlatformConfig
from .render.rules import render_rules, rules_path

CHUNK = 2_000  # documents evaluated together (a customer's are never split)


@dataclass(frozen=True)
class Pickled:
    """A document's data, pickled as it is read: a few hundred bytes, not kilobytes of
    dicts (exact for anything YAML loads; only ever our own bytes are unpickled)."""

    data: bytes


class Packing(list[Document]):
    """The loader's list of documents (manifests.load_paths `into`), packing each."""

    def append(self, doc: Document) -> None:
        packed = Pickled(pickle.dumps(doc.data))  # the text is the file's, shared: kept
        super().append(Document(doc.source, packed, doc.text, doc.item))


@dataclass
class Packed:
    items: Sequence[Document]  # in input order, data Pickled

    def documents(self, indexes: Sequence[int] | None = None) -> Iterator[Document]:
        for i in range(len(self.items)) if indexes is None else indexes:
            doc = self.items[i]
            data = doc.data.data if isinstance(doc.data, Pickled) else pickle.dumps(doc.data)
            yield Document(doc.source, pickle.loads(data), doc.text, doc.item)


def load_packed(paths: Sequence[str]) -> tuple[Packed, list[Problem]]:
    loaded = load_paths(paths, into=Loaded(Packing(), []))
    return Packed(loaded.documents), loaded.problems


@dataclass
class RenderOutcome:
    """What `render` reports, over every chunk (core.Outcome's parts render uses)."""

    problems: list[Problem] = field(default_factory=list)
    invalid: set[ObjectRef] = field(default_factory=set)
    valid: int = 0
    invalid_alert_owners: set[str] | None = field(default_factory=set)
    invalid_receiver_owners: set[str] | None = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def evaluate_and_render(
    packed: Packed, platform: PlatformConfig, earlier: Sequence[Problem]
) -> tuple[RenderOutcome, Rendered]:
    result = RenderOutcome()
    rules: dict[str, str] = {}
    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]] = {}
    for n, indexes in enumerate(chunks(packed, CHUNK)):
        # The loader's problems go with the first chunk: one chunk reports as before.
        docs = list(packed.documents(indexes))
        outcome = evaluate(docs, platform, earlier=earlier if n == 0 else ())
        del docs
        result.problems.extend(outcome.problems)
        result.invalid |= outcome.invalid
        alerts, receivers_ = result.invalid_alert_owners, result.invalid_receiver_owners
        result.invalid_alert_owners = _union(alerts, outcome.invalid_alert_owners)
        result.invalid_receiver_owners = _union(receivers_, outcome.invalid_receiver_owners)
        valid = outcome.valid
        result.valid += len(valid)
        rules |= _rules_and_receivers(valid, receivers)
    if earlier:  # unreadable input may hold anyone's objects (core.evaluate)
        result.invalid_alert_owners = result.invalid_receiver_owners = None
        if not packed.items:  # no chunk took them
            result.problems = list(earlier)
    am = render_alertmanager(receivers, platform)
    return result, Rendered(rules=dict(sorted(rules.items())), alertmanager=am)


def _rules_and_receivers(
    valid: Sequence[Resource], receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]]
) -> dict[str, str]:
    """The rule files of one chunk's valid objects (render.render's way); its receivers
    are added to `receivers`, for alertmanager.yml at the end."""
    ruled: dict[str, list[Resource]] = {}
    for obj in valid:
        receivers.setdefault(obj.spec.customer_id, [])
        if renders_rules(obj.kind):
            ruled.setdefault(obj.spec.customer_id, []).append(obj)
        elif isinstance(obj, CustomerReceiver):
            receivers[obj.spec.customer_id].append((obj.metadata.namespace, obj.spec))
    rules = {}
    for cid, theirs in ruled.items():
        text = render_rules(cid, (o.spec for o in theirs))
        if text is not None:
            rules[rules_path(cid)] = text
    return rules


def _union(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return None if a is None or b is None else a | b


def chunks(packed: Packed, size: int) -> list[list[int]]:
    """Document indexes, grouped so that related documents share a chunk (see above),
    groups packed into chunks of about `size`, each in input order."""
    parent: dict[object, object] = {}

    def find(key: object) -> object:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]  # path halving
            key = parent[key]
        return key

    keys: list[object] = []
    for doc in packed.documents():
        data = doc.data if isinstance(doc.data, dict) else {}
        meta = data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        own = ("customer", claimed_customer(data))
        ref = ("ref", str(data.get("kind")), str(meta.get("namespace")), str(meta.get("name")))
        parent[find(ref)] = find(own)
        keys.append(own)
    groups: dict[object, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(find(key), []).append(i)
    out: list[list[int]] = []
    current: list[int] = []
    for members in groups.values():
        if current and len(current) + len(members) > size:
            out.append(sorted(current))
            current = []
        current.extend(members)
    if current:
        out.append(sorted(current))
    return out

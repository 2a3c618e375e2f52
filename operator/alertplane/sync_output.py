"""The reconciler's last check before writing: the output, as it will be written, is
asked of promtool and amtool, and whatever they refuse is traced to the objects at fault.

Validation already checks every object; this catches what only the assembled output
shows (a last valid version an older check let through, objects refused only together)
and makes sure such a refusal costs those objects their place in the output, never the
customer's other objects or anybody else's. The texts checked here are the ones the sink
checks again, and both tools' verdicts are cached by content, so the sink's check is free.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .admission import RECONCILE, Admission, admit
from .errors import ObjectRef, Problem, ToolError
from .manifests import Document
from .model import CustomerReceiverSpec, Resource
from .model.records import ObjectRecord
from .render import ALERTMANAGER_PATH
from .render.alertmanager import render_alertmanager
from .render.platform import PlatformConfig
from .render.rules import rule_spec
from .sync_assess import Assessment
from .validate.blame import check_configs, receiver_problems, rule_problems
from .validate.ruletests import NOT_RUN

log = logging.getLogger("alertplane.sync")

Live = Mapping[str, Sequence[tuple[ObjectRecord, Resource]]]
ReceiverKey = tuple[str, str]  # customer id, receiver name


@dataclass
class Pass:
    """The output one sync assembles before writing, and what it concluded per object."""

    files: dict[str, str | None] = field(default_factory=dict)  # None: the output goes
    assessed: list[Assessment] = field(default_factory=list)
    receiver_owner: dict[ReceiverKey, int] = field(default_factory=dict)  # → `assessed`


def contained_admission(docs: Sequence[Document], platform: PlatformConfig) -> Admission:
    """`admit(docs, RECONCILE)`, where a check that breaks on some document (a bug: no
    check may raise on any input) costs that object its validity, never the other objects
    their sync. The documents it breaks on are found by halving; the rest are admitted
    together."""
    try:
        return admit(docs, RECONCILE, platform)
    except ToolError:
        raise  # the tools themselves are missing or stuck: nobody's input explains it
    except Exception:
        log.exception("checking %d object(s) failed; looking for the object at fault", len(docs))
    broken = _breaking(docs, platform)
    admission = admit([d for i, d in enumerate(docs) if i not in broken], RECONCILE, platform)
    admission.marked += [
        Problem(
            "spec",
            f"alertplane could not check this object ({broken[i]}); this is a bug in alertplane",
            "please report it; meanwhile change or delete the object",
        ).at(source=docs[i].source)
        for i in sorted(broken)
    ]
    return admission


def _breaking(
    docs: Sequence[Document], platform: PlatformConfig, offset: int = 0
) -> dict[int, str]:
    """Index → what broke, for the documents whose check raises even alone."""
    try:
        admit(docs, RECONCILE, platform)
    except ToolError:
        raise
    except Exception as exc:
        if len(docs) == 1:
            return {offset: type(exc).__name__}
        half = len(docs) // 2
        return _breaking(docs[:half], platform, offset) | _breaking(
            docs[half:], platform, offset + half
        )
    return {}


def refused_rules(live: Live) -> tuple[dict[ObjectRef, list[Problem]], dict[str, str | None]]:
    """Object → why promtool refuses the rule it would put in its customer's file; and
    each customer's rule file without those (None: no file)."""
    refused: dict[ObjectRef, list[Problem]] = {}
    while True:  # each round drops at least one rule's object, or ends
        sets = {
            cid: [
                (st.ref, spec)
                for st, obj in entries
                if (spec := rule_spec(obj.spec)) is not None and st.ref not in refused
            ]
            for cid, entries in live.items()
        }
        texts: dict[str, str | None] = {}
        found = rule_problems(sets, texts)
        if not found:
            return refused, texts
        refused.update(found)


def accepted_alertmanager(
    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]], platform: PlatformConfig
) -> tuple[str, dict[ReceiverKey, list[Problem]]]:
    """The alertmanager.yml to write and the receivers left out of it because amtool
    refuses them (removed from `receivers` too)."""
    refused: dict[ReceiverKey, list[Problem]] = {}
    while True:  # each round drops at least one receiver, or ends
        text = render_alertmanager(receivers, platform)
        complaint = check_configs({"alertmanager.yml": text})["alertmanager.yml"]
        if not complaint:
            return text, refused
        entries = [
            ((cid, spec.receiver_name), namespace, spec)
            for cid, items in receivers.items()
            for namespace, spec in items
        ]
        found = receiver_problems(entries, platform)
        if not found:
            raise ToolError(f"amtool rejects alertmanager.yml, yet no receiver: {complaint}")
        for (cid, name), problems in found.items():
            receivers[cid] = [(ns, s) for ns, s in receivers[cid] if s.receiver_name != name]
            refused[(cid, name)] = problems


def settle_alertmanager(
    out: Pass,
    receivers: dict[str, list[tuple[str, CustomerReceiverSpec]]],
    platform: PlatformConfig,
) -> set[str]:
    """Put the alertmanager.yml amtool accepts into `out.files`; a receiver left out of it
    is reported on its object. Returns the customers not in this pass whose receiver was
    left out (their own sync says why)."""
    text, refused_receivers = accepted_alertmanager(receivers, platform)
    out.files[ALERTMANAGER_PATH] = text
    elsewhere: set[str] = set()
    for (cid, name), found in refused_receivers.items():
        index = out.receiver_owner.get((cid, name))
        if index is None:
            elsewhere.add(cid)
            continue
        a = out.assessed[index]
        text_of = "; ".join(p.text() for p in found)
        problems_text = text_of if a.problems is None else f"{a.problems}; {text_of}"
        out.assessed[index] = replace(
            a, problems=problems_text, spec=None, live_generation=None, rendered_to=()
        )
    return elsewhere


def untested(assessed: Sequence[Assessment]) -> set[str]:
    """Customers with a rule test a check did not reach (out of promtool time,
    validate/ruletests.py): synced again soon, not left Invalid until they change."""
    return {a.customer_id for a in assessed if a.problems and NOT_RUN in a.problems}

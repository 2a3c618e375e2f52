"""A sync's last phase: every assessed object's status, from what the sink says is live.

Synced follows the sink's word on the object's output (`Sink.liveness`): Reloaded when the
running system loaded it, Written when there is nobody to ask, Pending or ReloadFailed
otherwise, and WriteFailed when the write itself failed. An invalid object's status says
which generation stays live, if any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from .errors import ObjectRef
from .model.kinds import renders_rules
from .model.records import Concluded
from .render import ALERTMANAGER_PATH
from .render.rules import rules_path
from .sinks.base import PENDING, Liveness, Sink
from .status import Verdict, concluded
from .sync_assess import Assessment


def output_of(a: Assessment) -> str:
    """The output an object's rendering goes to (whether or not it is rendered now)."""
    return rules_path(a.customer_id) if renders_rules(a.kind) else ALERTMANAGER_PATH


def status_updates(
    assessed: list[Assessment],
    sink: Sink,
    write_error: str,
    now: datetime,
    locate: Callable[[str, str], str] | None = None,
) -> tuple[dict[ObjectRef, Concluded], set[str]]:
    """Each object's new status (with the serial of the object it was concluded for), and
    the customers whose output the sink says is still on its way (`PENDING`): the
    reconciler asks again for them a little later, so Synced follows the running system.
    `locate`: where each output is shown in renderedTo (a shard's directory)."""
    updates: dict[ObjectRef, Concluded] = {}
    pending: set[str] = set()
    for a in assessed:
        if locate is not None and a.rendered_to:
            a = replace(a, rendered_to=tuple(locate(r, a.customer_id) for r in a.rendered_to))
        liveness = sink.liveness(output_of(a), a.customer_id)
        if liveness.reason == PENDING and not write_error:
            pending.add(a.customer_id)
        v = verdict(a, liveness, write_error)
        live = (a.generation, a.spec) if a.problems is None and a.spec is not None else None
        status = concluded(v, a.conditions, a.last_sync_time, now, live)
        updates[a.ref] = Concluded(a.serial, status)
    return updates, pending


def verdict(a: Assessment, live: Liveness, write_error: str) -> Verdict:
    if write_error:
        synced, reason, message = False, "WriteFailed", write_error
    else:
        synced, reason, message = live.synced, live.reason, live.message
    gen = a.generation
    if a.problems is None:
        return Verdict(gen, True, "", gen, synced, reason, message, a.disabled, a.rendered_to)
    if a.disabled:  # whatever else the spec says, nothing of the alert is rendered
        if synced:
            reason, message = "Disabled", f"nothing rendered; generation {gen} is invalid"
        return Verdict(gen, False, a.problems, None, synced, reason, message, True)
    if a.live_generation is not None:
        return Verdict(
            gen,
            False,
            a.problems,
            a.live_generation,
            False,
            "Superseded",
            f"generation {a.live_generation} stays live; generation {gen} is invalid",
            rendered_to=a.rendered_to,
        )
    return Verdict(
        gen, False, a.problems, None, False, "Pending", "not rendered: the spec is invalid"
    )

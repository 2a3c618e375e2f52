"""Kubernetes mode: the API's writes become CustomerAlert/CustomerReceiver custom resources.

The cluster stays the truth. `alertplane serve --kubernetes` runs no reconciler: the
operator reconciles what this writes and mirrors every object, its status and an audit
row into the database this process reads from (the same tables as standalone mode).

Who changed what: writes use field manager `alertplane-api` and annotate the object with
the token's name and the door (api/rollback/import/console); the operator believes those
annotations only for changes `alertplane-api` made (k8s/changes.py `api_change`) and,
with a key shared with the operator, only when signed with it (kube/signing.py).

A create only ever POSTs (`create`): the API server, not the lagging mirror, decides
whether the name is free, so a create never replaces anything.

Read-your-writes: after a write this waits (bounded) until the mirror has the written
generation, rather than reading single objects from the API server. Every read of the API
comes from the mirror (lists, audit, versions for rollback, the customers overview and
the uniqueness checks of the next create), so only waiting makes all of them see the
write; reading one object from the cluster would leave lists and audit behind.
`?wait=true` polls the custom resource's own status (`current`): the freshest there is.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from ..errors import Conflict, Invalid, ObjectRef, Problem
from ..model import Resource
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..store import txn
from ..store.repo import Change, Store
from ..validate.unique import identity
from .answers import (
    already_exists,
    check_template,
    clear_secrets,
    no_name,
    ref_of,
    refusal,
    renamed,
)
from .client import ApiError as KubeError
from .client import KubeClient
from .moves import Moves
from .resources import Done, Live, SignedRequests, generation_of

log = logging.getLogger("alertplane.kube.writer")

MIRROR_WAIT_S = 5.0


class Plan(NamedTuple):
    """One write of an apply: where, over what (None: a create), and the body."""

    ref: ObjectRef
    live: Live | None
    body: Live


class KubeWriter:
    def __init__(
        self,
        client: KubeClient,
        store: Store,
        namespace_template: str = "{customer}",
        mirror_wait_s: float = MIRROR_WAIT_S,
        key: bytes | None = None,
        moves: bool = False,
    ) -> None:
        """`key`: shared with the operator (`--attribution-key-file`); the audit annotations
        are signed with it (kube/signing.py), else they are unverifiable. `moves`: `apply`
        may replace an object of another customer (see `moving`)."""
        self.client = client
        self.store = store
        self.template = namespace_template
        self.mirror_wait_s = mirror_wait_s
        self.requests = SignedRequests(client, key)
        self.moves = moves
        check_template(namespace_template)

    def moving(self) -> KubeWriter:
        """This writer, allowed to move an object of another customer to the object's own
        (kube/moves.py: deleted, created afresh in its customer's namespace): for the writes
        of callers who may move objects between customers (admin imports), and only those.
        The caller decides, not the door (`source`): a customer's import must not take
        another customer's object that the lagging mirror did not show it."""
        other = copy.copy(self)
        other.moves = True
        return other

    def namespace_for(self, customer: str) -> str:
        return self.template.format(customer=customer)

    # -- writes -------------------------------------------------------------------------
    def create(self, obj: Resource, actor: str, source: str, fallback: str | None = None) -> Change:
        """Create `obj`, never replace: only a POST, which the API server refuses when the
        name exists. The database mirror the caller checked may lag, and different spec
        names share object names (`High_Error`/`high_error`; customers in one namespace),
        so the cluster has the last word. Taken by an object of another name: once more at
        `fallback` (the salted name)."""
        problems = clear_secrets(obj)
        if problems:
            raise Invalid(problems)
        ref = ref_of(obj)
        try:
            out = self.requests.create(ref, obj, actor, source)
        except KubeError as exc:
            answer = refusal(exc, ref)
            if exc.status != 409 or not isinstance(answer, Conflict):
                raise answer from None
            if self._same_named(ref, obj):
                raise Conflict(already_exists(obj)) from None
            if fallback is None or fallback == ref.name:
                raise Conflict(no_name(obj, ref.name)) from None
            ref = ObjectRef(ref.kind, ref.namespace, fallback)
            obj = renamed(obj, fallback)
            try:
                out = self.requests.create(ref, obj, actor, source)
            except KubeError as again:
                if again.status == 409:
                    raise Conflict(no_name(obj, fallback)) from None
                raise refusal(again, ref) from None
        generation = int(out.get("metadata", {}).get("generation") or 1)
        self._await_mirror(ref, generation)
        return Change(ref, "created", generation)

    def _same_named(self, ref: ObjectRef, obj: Resource) -> bool:
        """Whether the object in the way is this customer's of the same spec name (a create
        racing another one): then the answer is "exists", not a second object."""
        there = self.requests.get(ref) or {}
        mine, theirs = dump_spec(obj.spec), there.get("spec") or {}
        if not isinstance(theirs, dict) or theirs.get("customerId") != mine.get("customerId"):
            return False
        # An alert's identity is its name and severity: its pair partner is another object.
        customer = str(mine.get("customerId"))
        return identity(obj.kind, customer, theirs) == identity(obj.kind, customer, mine)

    def apply(
        self,
        objects: Sequence[Resource],
        actor: str,
        source: str,
        expected: Mapping[ObjectRef, txn.Expect] | None = None,
    ) -> list[Change]:
        """Create or replace (import, updates): a replacement PUTs with the resourceVersion
        just read, so a change made meanwhile is refused (409), never overwritten. So
        `expected` (If-Match) is checked against the custom resource's metadata.generation
        as read, and the resourceVersion makes that check hold until the write."""
        problems = [p for obj in objects for p in clear_secrets(obj)]
        if problems:
            raise Invalid(problems)
        moves = Moves()
        plans = [self._plan(obj, expected or {}, moves, actor, source) for obj in objects]
        # All or nothing: the API server judges every write first when there are several,
        # or when a move deletes an old object before its new one is written (a refused
        # write would otherwise leave neither, e.g. the new customer's namespace missing).
        if len(plans) > 1 or moves.old:
            self._dry_run(plans, moves)
        self._move_away(moves, actor, source)
        changes = self._write_all(plans, actor, source)
        for change in changes:
            self._await_mirror(change.ref, change.generation)
        return changes

    def _plan(
        self,
        obj: Resource,
        expected: Mapping[ObjectRef, txn.Expect],
        moves: Moves,
        actor: str,
        source: str,
    ) -> Plan:
        """What writing `obj` means given what the cluster has now (If-Match checked)."""
        ref = ref_of(obj)
        live = self.requests.get(ref)
        want = expected.get(ref)
        # What was read is checked by its generation alone here (the replacement carries
        # the live resourceVersion); the mirror's spec is not the custom resource's byte
        # for byte, so comparing them would refuse writes that should pass.
        if isinstance(want, txn.Read):
            want = want.generation
        txn.check(ref, want, generation_of(live))
        theirs = ((live or {}).get("spec") or {}).get("customerId")
        if live is not None and theirs != obj.spec.customer_id:
            if not self.moves:
                # The cluster has another customer's object there (deleted and created
                # again, shared namespace), which the mirror the caller checked may not
                # show yet.
                raise Conflict(
                    f"{ref.namespace}/{ref.name} is taken by an object of another customer "
                    "(or was replaced meanwhile): not replaced; reload, or choose another name"
                )
            home = self.namespace_for(obj.spec.customer_id)
            obj, ref, live = moves.plan(obj, ref, live, home, self.requests.get)
        return Plan(ref, live, self.requests.body_of(obj, live, actor, source))

    def _dry_run(self, plans: Sequence[Plan], moves: Moves) -> None:
        """Every write judged by the API server (dryRun=All); refused: nothing written."""
        refused: list[Problem] = []
        for ref, live, body in plans:
            if moves.recreated(ref):
                continue  # the old object is still there: judged when it is written
            try:
                self.requests.write(ref, live, body, dry_run=True)
            except KubeError as exc:
                answer = refusal(exc, ref)
                if not isinstance(answer, Invalid):
                    raise answer from None
                refused.extend(answer.problems)
        if refused:
            raise Invalid(refused, "refused by the Kubernetes API server; nothing written")

    def _move_away(self, moves: Moves, actor: str, source: str) -> None:
        """Delete the moved objects' old identities, until the mirror has them no more."""
        try:
            moves.delete_old(
                lambda ref, live: self.requests.delete(ref, live, actor, source),
                self.requests.get,
            )
        except KubeError as exc:
            raise refusal(exc, moves.old[0][0]) from None
        for ref, _ in moves.old:
            self._await_mirror(ref, None)

    def _write_all(self, plans: Sequence[Plan], actor: str, source: str) -> list[Change]:
        """The writes, in order; one refused: the earlier ones undone (best effort)."""
        changes: list[Change] = []
        done: Done = []
        for ref, live, body in plans:
            try:
                out = self.requests.write_racing(ref, live, body)
            except KubeError as exc:
                self.requests.undo(done, actor, source)
                raise refusal(exc, ref) from None
            # The uid written: the undo must not delete an object created by someone else
            # after this one was deleted meanwhile.
            done.append((ref, live, str(out.get("metadata", {}).get("uid") or "")))
            generation = int(out.get("metadata", {}).get("generation") or 1)
            changes.append(Change(ref, _action(live, generation), generation))
        return changes

    def rollback(
        self,
        ref: ObjectRef,
        version: int,
        obj: Resource,
        actor: str,
        source: str,
        expected: int | None = None,
    ) -> Change:
        # The cluster keeps no history: the version's spec (from the mirror's audit, already
        # validated by crud.rollback) is written as a new generation.
        want = None if expected is None else {ref: expected}
        (change,) = self.apply([obj], actor, source, want)
        action = "rolled-back" if change.action == "configured" else change.action
        return Change(ref, action, change.generation)

    def delete(self, ref: ObjectRef, actor: str, source: str, expected: int | None = None) -> None:
        live = self.requests.get(ref)
        # The delete is preconditioned on the resourceVersion read (resources.py).
        txn.check(ref, expected, generation_of(live))
        if live is not None:
            try:
                self.requests.delete(ref, live, actor, source)
            except KubeError as exc:
                raise refusal(exc, ref) from None
        self._await_mirror(ref, None)

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        found = self.requests.get(ref)
        return None if found is None else ObjectRecord.from_manifest(found)

    def _await_mirror(self, ref: ObjectRef, generation: int | None) -> None:
        """Until the operator's mirror has `generation` of `ref` (None: has it no more)."""
        deadline = time.monotonic() + self.mirror_wait_s
        pause = 0.02
        while True:
            found = self.store.find(ref)
            if generation is None and found is None:
                return
            if generation is not None and found is not None and found.generation >= generation:
                return
            if time.monotonic() >= deadline:
                log.warning(
                    "%s: not in the database after %.1fs (is the operator running with --db?)",
                    ref,
                    self.mirror_wait_s,
                )
                return
            time.sleep(pause)
            pause = min(pause * 1.5, 0.2)


def _action(live: Any, generation: int) -> str:
    """What a write did: created, configured, or unchanged (the generation stayed)."""
    if live is None:
        return "created"
    before = int(live["metadata"].get("generation") or 0)
    return "unchanged" if before == generation else "configured"

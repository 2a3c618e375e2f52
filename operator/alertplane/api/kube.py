"""Kubernetes mode: the API's writes become CustomerAlert/CustomerReceiver custom resources.

The cluster stays the truth. `alertplane serve --kubernetes` runs no reconciler: the
operator reconciles what this writes and mirrors every object, its status and an audit
row into the database this process reads from (the same tables as standalone mode).

Who changed what: writes use field manager `alertplane-api` and annotate the object with
the token's name and the door (api/rollback/import/console); the operator believes those
annotations only for changes `alertplane-api` made (k8s/changes.py `api_change`) and,
with a key shared with the operator, only when signed with it (k8s/signing.py).

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
from datetime import UTC, datetime
from typing import Any

from ..errors import Conflict, Invalid, ObjectRef, Problem
from ..k8s.changes import API_MANAGER, CHANGE_SOURCE, CHANGED_AT, CHANGED_BY
from ..k8s.client import ApiError as KubeError
from ..k8s.client import KubeClient, api_path
from ..k8s.signing import SIGNATURE, sign, spec_digest
from ..k8s.state import PLURALS
from ..model import API_VERSION, Resource
from ..model.common import dump_spec
from ..model.records import ObjectRecord
from ..store import txn
from ..store.repo import Change, Store
from .kube_answers import (
    NAME_FIELDS,
    check_template,
    clear_secrets,
    no_name,
    ref_of,
    refusal,
    renamed,
    what_of,
)
from .kube_moves import Moves
from .kube_races import rebased, retrying

log = logging.getLogger("alertplane.api.kube")

MIRROR_WAIT_S = 5.0
MERGE_PATCH = "application/merge-patch+json"


def generation_of(live: dict[str, Any] | None) -> int | None:
    """A custom resource's metadata.generation (None: it does not exist)."""
    return None if live is None else int((live.get("metadata") or {}).get("generation") or 1)


def object_path(ref: ObjectRef, collection: bool = False) -> str:
    name = None if collection else ref.name
    return api_path(API_VERSION, PLURALS[ref.kind], ref.namespace, name)


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
        are signed with it (k8s/signing.py), else they are unverifiable. `moves`: `apply`
        may replace an object of another customer (see `moving`)."""
        self.client = client
        self.store = store
        self.template = namespace_template
        self.mirror_wait_s = mirror_wait_s
        self.key = key
        self.moves = moves
        check_template(namespace_template)

    def moving(self) -> KubeWriter:
        """This writer, allowed to move an object of another customer to the object's own
        (kube_moves.py: deleted, created afresh in its customer's namespace): for the writes
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
            out = self._post(ref, obj, actor, source)
        except KubeError as exc:
            answer = refusal(exc, ref)
            if exc.status != 409 or not isinstance(answer, Conflict):
                raise answer from None
            if self._same_named(ref, obj):
                raise Conflict(f"{what_of(obj)} already exists; change it with PUT") from None
            if fallback is None or fallback == ref.name:
                raise Conflict(no_name(obj, ref.name)) from None
            ref = ObjectRef(ref.kind, ref.namespace, fallback)
            obj = renamed(obj, fallback)
            try:
                out = self._post(ref, obj, actor, source)
            except KubeError as again:
                if again.status == 409:
                    raise Conflict(no_name(obj, fallback)) from None
                raise refusal(again, ref) from None
        generation = int(out.get("metadata", {}).get("generation") or 1)
        self._await_mirror(ref, generation)
        return Change(ref, "created", generation)

    def _post(self, ref: ObjectRef, obj: Resource, actor: str, source: str) -> dict[str, Any]:
        body = self.body_of(obj, None, actor, source)
        return self.client.request(
            "POST", object_path(ref, collection=True), body, {"fieldManager": API_MANAGER}
        )

    def _same_named(self, ref: ObjectRef, obj: Resource) -> bool:
        """Whether the object in the way is this customer's of the same spec name (a create
        racing another one): then the answer is "exists", not a second object."""
        there = self._call(ref, lambda: self.client.get(object_path(ref))) or {}
        mine, theirs = dump_spec(obj.spec), there.get("spec") or {}
        field = NAME_FIELDS.get(obj.kind, "")
        return bool(
            theirs.get("customerId") == mine.get("customerId")
            and theirs.get(field) == mine.get(field)
        )

    def apply(
        self,
        objects: Sequence[Resource],
        actor: str,
        source: str,
        expected: Mapping[ObjectRef, int] | None = None,
    ) -> list[Change]:
        """Create or replace (import, updates): a replacement PUTs with the resourceVersion
        just read, so a change made meanwhile is refused (409), never overwritten. So
        `expected` (If-Match) is checked against the custom resource's metadata.generation
        as read, and the resourceVersion makes that check hold until the write."""
        problems = [p for obj in objects for p in clear_secrets(obj)]
        if problems:
            raise Invalid(problems)
        plans = []
        moves = Moves()
        for obj in objects:
            ref = ref_of(obj)
            live: dict[str, Any] | None = self._get(ref)
            txn.check(ref, (expected or {}).get(ref), generation_of(live))
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
                obj, ref, live = moves.plan(obj, ref, live, home, self._get)
            plans.append((ref, live, self.body_of(obj, live, actor, source)))
        # All or nothing: the API server judges every write first when there are several,
        # or when a move deletes an old object before its new one is written (a refused
        # write would otherwise leave neither, e.g. the new customer's namespace missing).
        if len(plans) > 1 or moves.old:
            refused: list[Problem] = []
            for ref, live, body in plans:
                if moves.recreated(ref):
                    continue  # the old object is still there: judged when it is written
                try:
                    self._write(ref, live, body, dry_run=True)
                except KubeError as exc:
                    answer = refusal(exc, ref)
                    if not isinstance(answer, Invalid):
                        raise answer from None
                    refused.extend(answer.problems)
            if refused:
                raise Invalid(refused, "refused by the Kubernetes API server; nothing written")
        try:
            moves.delete_old(lambda ref, live: self._delete(ref, live, actor, source), self._get)
        except KubeError as exc:
            raise refusal(exc, moves.old[0][0]) from None
        for ref, _ in moves.old:
            self._await_mirror(ref, None)
        changes: list[Change] = []
        done: list[tuple[ObjectRef, dict[str, Any] | None, str]] = []
        for ref, live, body in plans:
            try:
                out = self._write_racing(ref, live, body)
            except KubeError as exc:
                self._undo(done, actor, source)
                raise refusal(exc, ref) from None
            # The uid written: the undo must not delete an object created by someone else
            # after this one was deleted meanwhile.
            done.append((ref, live, str(out.get("metadata", {}).get("uid") or "")))
            generation = int(out.get("metadata", {}).get("generation") or 1)
            before = None if live is None else int(live["metadata"].get("generation") or 0)
            action = (
                "created" if live is None else "unchanged" if before == generation else "configured"
            )
            changes.append(Change(ref, action, generation))
        for change in changes:
            self._await_mirror(change.ref, change.generation)
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
        live = self._call(ref, lambda: self.client.get(object_path(ref)))
        # The delete is preconditioned on the resourceVersion read (`_delete`).
        txn.check(ref, expected, generation_of(live))
        if live is not None:
            try:
                self._delete(ref, live, actor, source)
            except KubeError as exc:
                raise refusal(exc, ref) from None
        self._await_mirror(ref, None)

    def _delete(self, ref: ObjectRef, live: dict[str, Any], actor: str, source: str) -> None:
        retrying(ref, live, lambda now: self._delete_once(ref, now, actor, source), self._get)

    def _delete_once(self, ref: ObjectRef, live: dict[str, Any], actor: str, source: str) -> None:
        """Say who deletes in a last update, then delete exactly that version: nobody's
        change can slip in between and be attributed to this token."""
        path = object_path(ref)
        meta = live.get("metadata") or {}
        generation = int(meta.get("generation") or 1)
        uid = str(meta.get("uid") or "")
        annotations = self.notes(
            ref, actor, source, generation, live.get("spec"), deleting=True, uid=uid
        )
        note = {
            "metadata": {"resourceVersion": meta.get("resourceVersion"), "annotations": annotations}
        }
        params = {"fieldManager": API_MANAGER}
        noted = self.client.request("PATCH", path, note, params, MERGE_PATCH)
        preconditions = {"resourceVersion": noted["metadata"]["resourceVersion"]}
        if uid:  # (live objects have one) exactly the object the notes were signed for
            preconditions["uid"] = uid
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
        try:
            self.client.request("DELETE", path, options)
        except KubeError as exc:
            if exc.status == 404:
                return
            # Left on the object, the signed delete notes would credit a later `kubectl
            # delete` to this token (without a key: the notes alone would). The operator
            # also refuses them once deletionTimestamp is far from changed-at.
            self._unnote(ref, uid, annotations)
            raise

    def _unnote(self, ref: ObjectRef, uid: str, annotations: dict[str, str]) -> None:
        """Best effort: remove the audit annotations of a delete that did not happen. The
        uid makes the API server refuse (409) if the name is another object by now."""
        meta: dict[str, Any] = {"annotations": dict.fromkeys(annotations)}
        if uid:
            meta["uid"] = uid
        gone = {"metadata": meta}
        params = {"fieldManager": API_MANAGER}
        try:
            self.client.request("PATCH", object_path(ref), gone, params, MERGE_PATCH)
        except KubeError as exc:
            if exc.status not in (404, 409):
                log.error("%s: could not remove the notes of a failed delete: %s", ref, exc)

    def current(self, ref: ObjectRef) -> ObjectRecord | None:
        found = self._call(ref, lambda: self.client.get(object_path(ref)))
        return None if found is None else ObjectRecord.from_manifest(found)

    # -- helpers ------------------------------------------------------------------------
    def notes(
        self,
        ref: ObjectRef,
        actor: str,
        source: str,
        generation: int,
        spec: Any,
        deleting: bool = False,
        uid: str = "",
    ) -> dict[str, str]:
        """The audit annotations of one write (signed with the key, if any: the operator
        believes them only then). `uid`: the object's, "" for a create (none yet)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out = {CHANGED_BY: actor, CHANGE_SOURCE: source, CHANGED_AT: now}
        if self.key is not None:
            out[SIGNATURE] = sign(
                self.key,
                namespace=ref.namespace,
                name=ref.name,
                actor=actor,
                source=source,
                changed_at=now,
                generation=generation,
                spec=spec,
                deleting=deleting,
                uid=uid,
            )
        return out

    def body_of(
        self, obj: Resource, live: dict[str, Any] | None, actor: str, source: str
    ) -> dict[str, Any]:
        """The custom resource to write: a replaced object keeps its metadata (finalizers,
        labels, resourceVersion for optimistic concurrency) and gets the new spec."""
        meta: dict[str, Any] = {"name": obj.metadata.name, "namespace": obj.metadata.namespace}
        spec = dump_spec(obj.spec)
        generation = 1
        if live is not None:
            meta = {k: v for k, v in live.get("metadata", {}).items() if k != "managedFields"}
            # The API server bumps a custom resource's generation on spec changes only.
            generation = int(meta.get("generation") or 1)
            if spec_digest(live.get("spec")) != spec_digest(spec):
                generation += 1
        meta["labels"] = {**(meta.get("labels") or {}), **obj.metadata.labels}
        uid = str(meta.get("uid") or "")
        signed = self.notes(ref_of(obj), actor, source, generation, spec, uid=uid)
        meta["annotations"] = {**(meta.get("annotations") or {}), **signed}
        return {"apiVersion": API_VERSION, "kind": obj.kind, "metadata": meta, "spec": spec}

    def _write_racing(
        self, ref: ObjectRef, live: dict[str, Any] | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        """`_write`, made again on the object as it is now when only the operator's
        bookkeeping raced it (kube_races)."""
        if live is None:
            return self._write(ref, None, body)

        def attempt(now: dict[str, Any]) -> dict[str, Any]:
            return self._write(ref, now, rebased(body, now))

        return retrying(ref, live, attempt, self._get)

    def _write(
        self,
        ref: ObjectRef,
        live: dict[str, Any] | None,
        body: dict[str, Any],
        dry_run: bool = False,
    ) -> dict[str, Any]:
        params = {"fieldManager": API_MANAGER}
        if dry_run:
            params["dryRun"] = "All"
        if live is None:
            return self.client.request("POST", object_path(ref, collection=True), body, params)
        return self.client.request("PUT", object_path(ref), body, params)

    def _undo(
        self, done: list[tuple[ObjectRef, dict[str, Any] | None, str]], actor: str, source: str
    ) -> None:
        """Best effort after a write failed half-way through a batch (the dry run passed,
        so only a race or an outage gets here): remove what it created, restore what it
        replaced. Written like any of this token's writes (field manager, signed notes),
        so the audit names the token, not an unknown client."""
        for ref, live, written in reversed(done):
            try:
                current = self.client.get(object_path(ref))
                if current is None:
                    continue
                if live is None:
                    if (current.get("metadata") or {}).get("uid") != written:
                        # Not the object this import created (it was deleted and someone
                        # created another): theirs, not ours to remove.
                        log.warning("%s was created again meanwhile; not deleted", ref)
                        continue
                    self._delete(ref, current, actor, source)  # uid precondition
                    continue
                meta = {k: v for k, v in current["metadata"].items() if k != "managedFields"}
                spec = live.get("spec")
                generation = int(meta.get("generation") or 1)
                if spec_digest(current.get("spec")) != spec_digest(spec):
                    generation += 1
                uid = str(meta.get("uid") or "")
                signed = self.notes(ref, actor, source, generation, spec, uid=uid)
                meta["annotations"] = {**(meta.get("annotations") or {}), **signed}
                restored = {**current, "metadata": meta, "spec": spec}
                restored.pop("status", None)
                params = {"fieldManager": API_MANAGER}
                self.client.request("PUT", object_path(ref), restored, params)
            except KubeError as exc:
                log.error("could not undo the import's change of %s: %s", ref, exc)

    def _get(self, ref: ObjectRef) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._call(ref, lambda: self.client.get(object_path(ref)))
        return found

    def _call(self, ref: ObjectRef, request: Any) -> Any:
        try:
            return request()
        except KubeError as exc:
            raise refusal(exc, ref) from None

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

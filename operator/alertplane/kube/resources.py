"""The REST API's requests on one custom resource, each saying (and signing) who makes it.

Every write uses field manager `alertplane-api` and carries the audit annotations of
kube/signing.py (actor, door, time; signed with the key shared with the operator, if
any). A replacement is preconditioned on the resourceVersion it was built from, a delete
on the resourceVersion and uid of the version its notes were signed for, so nobody's
change can slip in between and be attributed to the token (kube/races.py retries only
where nothing but the operator's bookkeeping moved). `KubeWriter` (kube/writer.py)
decides what to write; this knows how.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ..errors import ObjectRef
from ..model import API_VERSION, Resource
from ..model.common import dump_spec
from .answers import ref_of, refusal
from .client import ApiError as KubeError
from .client import KubeClient
from .paths import object_path
from .races import rebased, retrying
from .signing import (
    API_MANAGER,
    CHANGE_SOURCE,
    CHANGED_AT,
    CHANGED_BY,
    SIGNATURE,
    sign,
    spec_digest,
)

log = logging.getLogger("alertplane.kube.writer")

MERGE_PATCH = "application/merge-patch+json"
Live = dict[str, Any]
# What a batch wrote so far, to undo: (ref, the object it replaced or None, uid written).
Done = list[tuple[ObjectRef, Live | None, str]]


def generation_of(live: Live | None) -> int | None:
    """A custom resource's metadata.generation (None: it does not exist)."""
    return None if live is None else int((live.get("metadata") or {}).get("generation") or 1)


class SignedRequests:
    def __init__(self, client: KubeClient, key: bytes | None = None) -> None:
        self.client = client
        self.key = key

    def get(self, ref: ObjectRef) -> Live | None:
        """The object as the API server has it now; its refusals as domain errors."""
        try:
            return self.client.get(object_path(ref))
        except KubeError as exc:
            raise refusal(exc, ref) from None

    def create(self, ref: ObjectRef, obj: Resource, actor: str, source: str) -> Live:
        """POST only: the API server refuses (409) when the name exists."""
        body = self.body_of(obj, None, actor, source)
        params = {"fieldManager": API_MANAGER}
        return self.client.request("POST", object_path(ref, collection=True), body, params)

    def write(self, ref: ObjectRef, live: Live | None, body: Live, dry_run: bool = False) -> Live:
        """Create (`live` None) or replace exactly the version `body` was built from."""
        params = {"fieldManager": API_MANAGER}
        if dry_run:
            params["dryRun"] = "All"
        if live is None:
            return self.client.request("POST", object_path(ref, collection=True), body, params)
        return self.client.request("PUT", object_path(ref), body, params)

    def write_racing(self, ref: ObjectRef, live: Live | None, body: Live) -> Live:
        """`write`, made again on the object as it is now when only the operator's
        bookkeeping raced it (kube/races.py)."""
        if live is None:
            return self.write(ref, None, body)

        def attempt(now: Live) -> Live:
            return self.write(ref, now, rebased(body, now))

        return retrying(ref, live, attempt, self.get)

    def delete(self, ref: ObjectRef, live: Live, actor: str, source: str) -> None:
        retrying(ref, live, lambda now: self._delete_once(ref, now, actor, source), self.get)

    def _delete_once(self, ref: ObjectRef, live: Live, actor: str, source: str) -> None:
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

    def undo(self, done: Done, actor: str, source: str) -> None:
        """Best effort after a write failed half-way through a batch (the dry run passed,
        so only a race or an outage gets here): remove what it created, restore what it
        replaced. Written like any of this token's writes (field manager, signed notes),
        so the audit names the token, not an unknown client."""
        for ref, live, written in reversed(done):
            try:
                current = self.client.get(object_path(ref))
                if current is None:
                    continue
                if live is not None:
                    self._restore(ref, current, live, actor, source)
                elif (current.get("metadata") or {}).get("uid") != written:
                    # Not the object this import created (it was deleted and someone
                    # created another): theirs, not ours to remove.
                    log.warning("%s was created again meanwhile; not deleted", ref)
                else:
                    self.delete(ref, current, actor, source)  # uid precondition
            except KubeError as exc:
                log.error("could not undo the import's change of %s: %s", ref, exc)

    def _restore(self, ref: ObjectRef, current: Live, live: Live, actor: str, source: str) -> None:
        """Put `live`'s spec back over `current` (its resourceVersion the precondition)."""
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

    def body_of(self, obj: Resource, live: Live | None, actor: str, source: str) -> Live:
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

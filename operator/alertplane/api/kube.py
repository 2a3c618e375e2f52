"""Kubernetes mode: the API's writes become CustomerAlert/CustomerReceiver custom resources.

The cluster stays the truth. `alertplane serve --kubernetes` runs no reconciler: the
operator reconciles what this writes and mirrors every object, its status and an audit
row into the database this process reads from (the same tables as standalone mode).

Who changed what: writes use field manager `alertplane-api` and annotate the object with
the token's name and the door (api/rollback/import/console); the operator believes those
annotations only for changes `alertplane-api` made (k8s/state.py `api_change`).

Read-your-writes: after a write this waits (bounded) until the mirror has the written
generation, rather than reading single objects from the API server. Every read of the API
comes from the mirror (lists, audit, versions for rollback, the customers overview and
the uniqueness checks of the next create), so only waiting makes all of them see the
write; reading one object from the cluster would leave lists and audit behind.
`?wait=true` polls the custom resource's own status (`current`): the freshest there is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import ObjectRef, Problem, UsageError
from ..k8s.changes import API_MANAGER, CHANGE_SOURCE, CHANGED_BY
from ..k8s.client import ApiError as KubeError
from ..k8s.client import KubeClient, api_path
from ..k8s.state import PLURALS
from ..model import API_VERSION, Resource
from ..model.common import dump_spec, is_dns_label
from ..store.repo import Change, Store, Stored
from ..store.secrets import SECRET_FIELDS
from ..store.tables import ObjectRow, StatusRow
from .errors import ApiError, BadGateway, Conflict, Invalid, NotFound, Unavailable

log = logging.getLogger("alertplane.api.kube")

MIRROR_WAIT_S = 5.0
# Changes on every write, so a delete's last update is never a no-op: the operator can
# then tell that `alertplane-api` made the last change (see k8s/state.py api_change).
CHANGED_AT = "alertplane.io/changed-at"
MERGE_PATCH = "application/merge-patch+json"


def object_path(ref: ObjectRef, collection: bool = False) -> str:
    name = None if collection else ref.name
    return api_path(API_VERSION, PLURALS[ref.kind], ref.namespace, name)


def ref_of(obj: Resource) -> ObjectRef:
    return ObjectRef(obj.kind, obj.metadata.namespace, obj.metadata.name)


class KubeWriter:
    def __init__(
        self,
        client: KubeClient,
        store: Store,
        namespace_template: str = "{customer}",
        mirror_wait_s: float = MIRROR_WAIT_S,
    ) -> None:
        self.client = client
        self.store = store
        self.template = namespace_template
        self.mirror_wait_s = mirror_wait_s
        check_template(namespace_template)

    def namespace_for(self, customer: str) -> str:
        return self.template.format(customer=customer)

    # -- writes -------------------------------------------------------------------------
    def apply(self, objects: Sequence[Resource], actor: str, source: str) -> list[Change]:
        problems = [p for obj in objects for p in clear_secrets(obj)]
        if problems:
            raise Invalid(problems)
        plans = []
        for obj in objects:
            ref = ref_of(obj)
            live = self._call(ref, lambda r=ref: self.client.get(object_path(r)))
            plans.append((ref, live, body_of(obj, live, actor, source)))
        if len(plans) > 1:  # all or nothing: let the API server judge every one first
            refused: list[Problem] = []
            for ref, live, body in plans:
                try:
                    self._write(ref, live, body, dry_run=True)
                except KubeError as exc:
                    answer = refusal(exc, ref)
                    if not isinstance(answer, Invalid):
                        raise answer from None
                    refused.extend(answer.problems)
            if refused:
                raise Invalid(refused, "refused by the Kubernetes API server; nothing written")
        changes: list[Change] = []
        done: list[tuple[ObjectRef, dict[str, Any] | None]] = []
        for ref, live, body in plans:
            try:
                out = self._write(ref, live, body)
            except KubeError as exc:
                self._undo(done)
                raise refusal(exc, ref) from None
            done.append((ref, live))
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
        self, ref: ObjectRef, version: int, obj: Resource, actor: str, source: str
    ) -> Change:
        # The cluster keeps no history: the version's spec (from the mirror's audit, already
        # validated by crud.rollback) is written as a new generation.
        (change,) = self.apply([obj], actor, source)
        action = "rolled-back" if change.action == "configured" else change.action
        return Change(ref, action, change.generation)

    def delete(self, ref: ObjectRef, actor: str, source: str) -> None:
        path = object_path(ref)
        live = self._call(ref, lambda: self.client.get(path))
        if live is not None:
            # Say who deletes in a last update, then delete exactly that version: nobody's
            # change can slip in between and be attributed to this token.
            note = {
                "metadata": {
                    "resourceVersion": live["metadata"].get("resourceVersion"),
                    "annotations": notes(actor, source),
                }
            }
            params = {"fieldManager": API_MANAGER}
            noted = self._call(
                ref, lambda: self.client.request("PATCH", path, note, params, MERGE_PATCH)
            )
            options = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "preconditions": {"resourceVersion": noted["metadata"]["resourceVersion"]},
            }
            try:
                self.client.request("DELETE", path, options)
            except KubeError as exc:
                if exc.status != 404:
                    raise refusal(exc, ref) from None
        self._await_mirror(ref, None)

    def current(self, ref: ObjectRef) -> Stored | None:
        found = self._call(ref, lambda: self.client.get(object_path(ref)))
        return None if found is None else stored_of(found)

    # -- helpers ------------------------------------------------------------------------
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

    def _undo(self, done: list[tuple[ObjectRef, dict[str, Any] | None]]) -> None:
        """Best effort after a write failed half-way through a batch (the dry run passed,
        so only a race or an outage gets here): remove what it created, restore what it
        replaced."""
        for ref, live in reversed(done):
            try:
                if live is None:
                    self.client.delete(object_path(ref))
                else:
                    current = self.client.get(object_path(ref))
                    if current is not None:
                        restored = {**current, "spec": live.get("spec")}
                        self.client.request("PUT", object_path(ref), restored)
            except KubeError as exc:
                log.error("could not undo the import's change of %s: %s", ref, exc)

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
            if generation is not None and found is not None and found.row.generation >= generation:
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


def check_template(template: str) -> None:
    try:
        sample = template.format(customer="acme")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(
            f"--customer-namespace {template!r}: {exc}",
            "use a namespace name, optionally with {customer}, e.g. 'alerts-{customer}'",
        ) from None
    if not is_dns_label(sample):
        raise UsageError(
            f"--customer-namespace {template!r} gives {sample!r}, not a namespace name",
            "use lowercase letters, digits and '-', optionally with {customer}",
        )


def notes(actor: str, source: str) -> dict[str, str]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {CHANGED_BY: actor, CHANGE_SOURCE: source, CHANGED_AT: now}


def body_of(obj: Resource, live: dict[str, Any] | None, actor: str, source: str) -> dict[str, Any]:
    """The custom resource to write: a replaced object keeps its metadata (finalizers,
    labels, resourceVersion for optimistic concurrency) and gets the new spec."""
    meta: dict[str, Any] = {"name": obj.metadata.name, "namespace": obj.metadata.namespace}
    if live is not None:
        meta = {k: v for k, v in live.get("metadata", {}).items() if k != "managedFields"}
    meta["labels"] = {**(meta.get("labels") or {}), **obj.metadata.labels}
    meta["annotations"] = {**(meta.get("annotations") or {}), **notes(actor, source)}
    return {
        "apiVersion": API_VERSION,
        "kind": obj.kind,
        "metadata": meta,
        "spec": dump_spec(obj.spec),
    }


def clear_secrets(obj: Resource) -> list[Problem]:
    """A custom resource is readable by whoever may list it: secret values go into a
    Kubernetes Secret, the receiver references it."""
    if obj.kind != "CustomerReceiver":
        return []
    spec = dump_spec(obj.spec)
    out = []
    for channel, clear, secret_ref, _ in SECRET_FIELDS:
        for i, cfg in enumerate(spec.get(channel) or []):
            if isinstance(cfg, dict) and cfg.get(clear) is not None:
                out.append(
                    Problem(
                        f"spec.{channel}[{i}].{clear}",
                        "a secret in clear is not written into the cluster",
                        f"put it into a Kubernetes Secret in namespace {obj.metadata.namespace} "
                        f"and send {secret_ref}: {{name: <secret>, key: <key>}} instead",
                    ).at(ref_of(obj))
                )
    return out


def stored_of(found: dict[str, Any]) -> Stored:
    """A custom resource (with its status) in the shape the API's views take."""
    meta, spec, st = found.get("metadata") or {}, found.get("spec") or {}, found.get("status") or {}
    row = ObjectRow(
        kind=found.get("kind", ""),
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        customer_id=str(spec.get("customerId", "")),
        generation=int(meta.get("generation") or 1),
        labels=dict(meta.get("labels") or {}),
        spec=spec,
    )
    status = StatusRow(
        phase=st.get("phase") or "Pending",
        observed_generation=int(st.get("observedGeneration") or 0),
        conditions=[c for c in st.get("conditions") or [] if isinstance(c, dict)],
        rendered_to=list(st.get("renderedTo") or []),
        last_sync_time=_time(st.get("lastSyncTime")),
    )
    return Stored(row, status)


def _time(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def refusal(exc: KubeError, ref: ObjectRef) -> ApiError:
    """The API server's answer as this API's: a clear status and message, never a 500."""
    status = exc.body
    message = str(status.get("message") or exc)
    raw = status.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    what = f"{ref.kind} {ref.namespace}/{ref.name}"
    if exc.status == 0 or exc.status in (429, 500, 502, 503, 504):
        return Unavailable(f"the Kubernetes API server is unavailable ({message}); retry later")
    if exc.status == 404 and details.get("kind") == "namespaces":
        return Invalid(
            [
                Problem(
                    "metadata.namespace",
                    f"namespace {ref.namespace!r} does not exist",
                    f"create it (kubectl create namespace {ref.namespace}; with tenant binding "
                    "label it alertplane.io/customer=<customerId>), or choose the namespace "
                    "with `alertplane serve --customer-namespace`",
                ).at(ref)
            ]
        )
    if exc.status == 404:
        return NotFound(f"{what} not found in the cluster")
    if exc.status == 409:
        if status.get("reason") == "AlreadyExists":
            return Conflict(f"{what} already exists in the cluster")
        return Conflict(f"{what} was changed by someone else meanwhile; retry")
    if exc.status in (400, 422) or "admission webhook" in message:
        causes = [c for c in details.get("causes") or [] if isinstance(c, dict)]
        hint = "the Kubernetes API server refused it (CRD schema, CEL rule or admission webhook)"
        problems = [
            Problem(str(c.get("field") or ""), str(c.get("message") or message), hint).at(ref)
            for c in causes
        ] or [Problem("", message, hint).at(ref)]
        return Invalid(problems, "refused by the Kubernetes API server")
    return BadGateway(
        f"the Kubernetes API server refused {what} (HTTP {exc.status}: {message}); "
        "check the API's ServiceAccount permissions (the chart's api RBAC)"
    )

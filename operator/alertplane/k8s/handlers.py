"""kopf handlers: thin. Each watch event goes into the cluster state; nothing else happens here.

Only `@kopf.on.event` handlers are used: they keep no progress or diff-base on the objects
(no kopf annotations, no kopf finalizer), and the reconciler is level-triggered anyway.
The optional validating webhook admits like every other door (`core.admit`, WRITE), so
`kubectl apply` of an object any door refuses is refused with the lines `alertplane
validate` prints for it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

import kopf

from ..core import WRITE, Taken, admit, taken
from ..errors import ObjectRef, Problem, Source
from ..kube.binding import binding_problem
from ..kube.client import KubeClient
from ..kube.kinds import CUSTOM, NAMESPACE
from ..manifests import MAX_DEPTH, TOO_DEEP_HINT, Document, too_deep
from ..model.common import dump_spec
from ..render.platform import PlatformConfig
from ..validate import Parsed
from .publish import add_finalizer
from .state import DELETE, FINALIZER, ClusterState

log = logging.getLogger("alertplane.k8s")

# Admission requests the webhook answers; DELETE only records who deleted (the audit actor).
WEBHOOK_OPERATIONS: tuple[Literal["CREATE", "UPDATE", "DELETE"], ...] = (
    "CREATE",
    "UPDATE",
    "DELETE",
)


def webhook_id(plural: str) -> str:
    """kopf serves each validating handler at the URL path `/<id>`; a request for any other
    path runs no handler and is allowed, so a ValidatingWebhookConfiguration (the Helm
    chart's) must call exactly `/validate-<plural>` for each of alertplane's kinds."""
    return f"validate-{plural}"


class Handlers:
    def __init__(
        self,
        state: ClusterState,
        client: KubeClient,
        platform: PlatformConfig,
        tenant_binding: bool,
        connection: Callable[[], kopf.ConnectionInfo],
        add_finalizer: Callable[[ObjectRef], None] | None = None,
    ) -> None:
        """`add_finalizer` queues the finalizer patch elsewhere (the publisher's workers);
        without it the handler patches inline, holding up kopf's few handler threads."""
        self.state = state
        self.client = client
        self.platform = platform
        self.tenant_binding = tenant_binding
        self.connection = connection
        self.add_finalizer = add_finalizer

    def registry(self, webhook: bool) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()
        kopf.on.login(registry=registry)(self.on_login)
        # Without API calls in it (add_finalizer queues them), the object handler is a few
        # dict operations: run it on kopf's event loop. A sync handler goes through kopf's
        # small thread pool, and during a burst (or the initial listing of 10,000 objects)
        # thousands of per-object workers each held a raw body while queueing for it.
        on_object = self.on_object if self.add_finalizer is None else self.on_object_async
        for kind in CUSTOM:
            kopf.on.event(
                group=kind.group, version=kind.version, plural=kind.plural, registry=registry
            )(on_object)
            if webhook:
                kopf.on.validate(
                    group=kind.group,
                    version=kind.version,
                    plural=kind.plural,
                    id=webhook_id(kind.plural),
                    operations=list(WEBHOOK_OPERATIONS),
                    registry=registry,
                )(self.admit)
        if self.tenant_binding:
            kopf.on.event(version=NAMESPACE.version, plural=NAMESPACE.plural, registry=registry)(
                self.on_namespace
            )
        return registry

    def on_login(self, **_: Any) -> kopf.ConnectionInfo:
        return self.connection()

    async def on_object_async(self, event: Mapping[str, Any], **_: Any) -> None:
        self.on_object(event)

    def on_object(self, event: Mapping[str, Any], **_: Any) -> None:
        body = event.get("object")
        if not isinstance(body, dict):
            return
        meta = body.get("metadata") or {}
        kind = body.get("kind", "")
        if event.get("type") == "DELETED":
            self.state.forget(kind, meta.get("namespace", ""), meta.get("name", ""), meta)
            return
        entry = self.state.observe(body)
        if entry is not None and not entry.deleting and FINALIZER not in entry.finalizers:
            ref = ObjectRef(kind, meta.get("namespace", ""), meta.get("name", ""))
            if self.add_finalizer is not None:
                self.add_finalizer(ref)
            else:
                add_finalizer(self.client, ref, meta)

    def on_namespace(self, event: Mapping[str, Any], **_: Any) -> None:
        body = event.get("object")
        if not isinstance(body, dict):
            return
        meta = body.get("metadata") or {}
        name = meta.get("name", "")
        if not self.state.in_scope(name):
            return
        gone = event.get("type") == "DELETED"
        self.state.set_namespace(name, None if gone else meta)

    # -- admission ------------------------------------------------------------------------
    def admit(
        self,
        body: Mapping[str, Any],
        userinfo: Mapping[str, Any],
        operation: str = "",
        old: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> None:
        meta = body.get("metadata") or {}
        ref = ObjectRef(str(body.get("kind", "")), meta.get("namespace", ""), meta.get("name", ""))
        if too_deep(body):  # as the manifest readers refuse it; deepcopy would recurse
            problem = Problem("", f"nesting deeper than {MAX_DEPTH} levels", TOO_DEEP_HINT)
            raise kopf.AdmissionError(str(problem.at(ref)), code=422)
        obj = copy.deepcopy(dict(body))
        meta = obj.get("metadata") or {}
        user = str(userinfo.get("username") or "")
        if operation == "DELETE":
            if user:
                self.state.admitted(ref, DELETE, user)
            return
        if old is not None and old.get("spec") == obj.get("spec"):
            return  # metadata only (finalizers, labels): never block those, even if invalid
        problems = self.problems(obj)
        if problems:
            raise kopf.AdmissionError("\n".join(problems), code=422)
        if user and ref.name:
            self.state.admitted(ref, int(meta.get("generation") or 1), user)

    def problems(self, obj: dict[str, Any]) -> list[str]:
        """Why admission refuses this object, next to its customer's others (as `alertplane
        validate` words it)."""
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", "default"), meta.get("name", "")
        cid = spec.get("customerId") if isinstance(spec, dict) else None
        ref = ObjectRef(str(obj.get("kind", "")), ns, name)
        others: list[Taken] = []
        if isinstance(cid, str):
            others = taken(s for s in self.state.get(customer=cid) if s.ref != ref)
        doc = Document(Source("admission"), obj)
        context = self._binding if self.tenant_binding else None
        admission = admit([doc], WRITE, self.platform, existing=others, context=context)
        return [str(p.at(ref) if p.obj is None else p) for p in admission.refused]

    def _binding(self, item: Parsed) -> list[Problem]:
        ns, cid = item.ref.namespace, item.obj.spec.customer_id
        spec = dump_spec(item.obj.spec)
        violation = binding_problem(ns, cid, self.state.bindings.get(ns), spec)
        return [] if violation is None else [violation]

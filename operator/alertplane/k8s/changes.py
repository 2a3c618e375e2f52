"""One change of a custom resource as the database mirror records it, and who made it.

Who changed an object is read from three places, from weakest to strongest: managedFields
(the field manager's name, chosen by the client), the annotations the REST API writes for
its tokens (`api_change`; with `--attribution-key-file` only when signed by the API, see
signing.py), and the user the admission webhook saw (authenticated by the API server).
`attribute` decides which one a change is recorded with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ObjectRef
from ..kube.signing import API_MANAGER, CHANGE_SOURCE, CHANGED_AT, CHANGED_BY, verified

SOURCE = "kubernetes"
API_SOURCES = frozenset({"api", "rollback", "import", "console"})


@dataclass(frozen=True)
class Change:
    """One change of an object, as the database mirror records it."""

    kind: str
    namespace: str
    name: str
    customer_id: str
    generation: int
    labels: dict[str, str]
    spec: dict[str, Any] | None  # None: deleted
    actor: str
    time: datetime
    source: str = SOURCE  # api/rollback/import/console: written by the REST API

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class MoveEntry:
    """A customer's rules moved from shard `source` (None: the unsharded output) to
    `target`, finished by `actor` (the operator replica) at `time`: one Placement audit row."""

    customer_id: str
    source: str | None
    target: str
    actor: str
    time: datetime


def service_account_user(account: str) -> str:
    """`NS/NAME` as the API server names that ServiceAccount in admission requests."""
    namespace, _, name = account.partition("/")
    return f"system:serviceaccount:{namespace}:{name}"


def attribute(
    meta: dict[str, Any],
    deleting: bool,
    admitted: str,
    api_user: str | None = None,
    key: bytes | None = None,
    spec: Any = None,
) -> tuple[str, str]:
    """(actor, source) of the change `meta` shows.

    `admitted`: the user the admission webhook let make it ("" when unknown). `api_user`:
    the API's ServiceAccount as an admission user, when the operator knows it (webhook on,
    `--api-service-account`); then the API's annotations are believed only for changes that
    user was admitted to make, since anyone allowed to update these objects can pick the
    field manager `alertplane-api` too. Without it the managedFields rule of `api_change`
    is all there is.

    `key`: the attribution key shared with the API (`--attribution-key-file`); then the
    annotations also need the API's signature over this object (its uid, except a
    create's), generation and `spec` (its spec as of this change), which nobody without the
    key can make; a create's or a delete's only near the time the API server set for it
    (creationTimestamp, deletionTimestamp), so a replay is not believed (kube/signing.py).
    """
    by_api = api_change(meta, deleting)
    if by_api is not None and key is not None:
        changed_at = str((meta.get("annotations") or {}).get(CHANGED_AT) or "")
        if not verified(key, meta, spec, deleting, *by_api, changed_at):
            by_api = None
    if by_api is not None and (api_user is None or admitted == api_user):
        return by_api
    if admitted:
        return admitted, SOURCE
    # managedFields record no deleter: the last manager would name whoever wrote last.
    return ("unknown" if deleting else actor_of(meta)), SOURCE


def actor_of(meta: dict[str, Any]) -> str:
    """Who last changed the spec, as managedFields record it (the field manager's name).

    The API server does not record users there; with the admission webhook on, the
    user from the admission request is used instead (see ClusterState.admitted).
    """
    return _last_manager(meta, spec=True) or "unknown"


def api_change(meta: dict[str, Any], deleting: bool = False) -> tuple[str, str] | None:
    """(actor, source) of a change the REST API made for a token, else None.

    The API writes with field manager `alertplane-api` and annotates the object with the
    token's name and its door (api/rollback/import/console); before a delete it sets
    them in a last update. Annotations alone are anyone's to write, so they count only
    when `alertplane-api` made this change (the last manager of the spec, or for a
    deletion of anything) and still owns both annotations: a later `kubectl edit` or
    `kubectl annotate` by someone else takes them over and they are ignored. Field
    manager names are chosen by the client, like all of managedFields: this attribution
    is as strong as the `actor_of` one, and RBAC (update on the two kinds) decides who
    could claim it; with the admission webhook and `--api-service-account`, `attribute`
    also requires the authenticated user to be the API's.
    """
    annotations = meta.get("annotations") or {}
    actor, source = annotations.get(CHANGED_BY), annotations.get(CHANGE_SOURCE)
    if not isinstance(actor, str) or not actor or source not in API_SOURCES:
        return None
    if _last_manager(meta, spec=not deleting) != API_MANAGER:
        return None
    for mf in meta.get("managedFields") or []:
        if isinstance(mf, dict) and mf.get("manager") == API_MANAGER and not mf.get("subresource"):
            owned = ((mf.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:annotations")
            if isinstance(owned, dict) and {f"f:{CHANGED_BY}", f"f:{CHANGE_SOURCE}"} <= set(owned):
                return actor, str(source)
    return None


def _last_manager(meta: dict[str, Any], spec: bool) -> str:
    """The newest field manager (of the spec, when `spec` and any wrote it), not counting
    the operator's own bookkeeping (finalizers, status)."""
    best: tuple[str, str] | None = None
    fallback: tuple[str, str] | None = None
    for mf in meta.get("managedFields") or []:
        if not isinstance(mf, dict) or mf.get("subresource") or mf.get("manager") == "alertplane":
            continue
        stamp, manager = str(mf.get("time") or ""), str(mf.get("manager") or "")
        if not manager:
            continue
        if "f:spec" in (mf.get("fieldsV1") or {}) and (best is None or stamp >= best[0]):
            best = (stamp, manager)
        if fallback is None or stamp >= fallback[0]:
            fallback = (stamp, manager)
    chosen = (best or fallback) if spec else fallback
    return chosen[1] if chosen else ""

"""The Kubernetes API's URL paths: the one place they are built.

`/api/v1/...` for the core group, `/apis/<group>/<version>/...` otherwise; namespaced
collections under `/namespaces/<ns>/`. Every request of this package goes to a path made
here, from the kind table (kinds.py), so no module spells a plural or a group again.
"""

from __future__ import annotations

from ..errors import ObjectRef
from .kinds import Kind, kind_of


def api_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


def kind_path(
    kind: Kind,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The path of `kind`'s objects: the collection (all namespaces without `namespace`),
    or one object with `name`, or its `subresource` (`status`)."""
    return api_path(kind.api_version, kind.plural, namespace, name, subresource)


def object_path(ref: ObjectRef, subresource: str | None = None, *, collection: bool = False) -> str:
    """The path of the object `ref` names (or of its namespace's collection of that kind,
    where a create POSTs)."""
    name = None if collection else ref.name
    return kind_path(kind_of(ref.kind), ref.namespace, name, subresource)

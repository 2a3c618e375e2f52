"""Finalizers (k8s/publish.py): new objects get theirs from the publisher, never from the watch
handler."""

from __future__ import annotations

from typing import Any, cast

from alertplane.errors import ObjectRef
from alertplane.k8s.handlers import Handlers
from alertplane.k8s.publish import ADD_FINALIZER, Publisher, object_path
from alertplane.k8s.state import FINALIZER, ClusterState
from alertplane.render.platform import PlatformConfig
from tests.support.factories import alert, body


class _PatchRecorder:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append((path, patch))
        return {}


def test_new_objects_get_the_finalizer_from_the_publisher_not_the_watch_handler() -> None:
    # kopf runs sync handlers on a few threads: an API call there held up every other event
    # (a 10,000-object burst queued raw watch events by the thousand).
    state, client, queued = ClusterState(), _PatchRecorder(), list[ObjectRef]()
    handlers = Handlers(
        state, cast(Any, client), PlatformConfig(), False, cast(Any, None), queued.append
    )
    ref = ObjectRef("CustomerAlert", "acme", "acme-higherrorrate")
    handlers.on_object({"type": "ADDED", "object": body(alert("acme"), resourceVersion="7")})
    assert (queued, client.patches) == ([ref], [])
    Publisher(cast(Any, client), state)._process(ref, {ADD_FINALIZER})
    patch = {"metadata": {"finalizers": [FINALIZER], "resourceVersion": "7"}}
    assert client.patches == [(object_path(ref), patch)]
    with_it = body(alert("acme"), resourceVersion="8", finalizers=[FINALIZER])
    handlers.on_object({"type": "MODIFIED", "object": with_it})
    assert queued == [ref]  # already there: nothing more to do

"""Writes preconditioned on a resourceVersion, retried when only bookkeeping moved it.

The API replaces and deletes custom resources exactly as it read them (the resourceVersion
is the precondition), so a concurrent change is refused, never overwritten. But the
operator moves the resourceVersion too, without changing anything a writer decided on:
it adds its finalizer and patches the status right after every write. Answering those
races with 409 made writes fail at random under load (an admin's move right after the
customer's last edit). So after a 409 the object is read again, and when the same object
(uid) is at the same generation with the same spec — only status, finalizers or
annotations moved — the write is made again on what is there now (its finalizers kept);
anything else stays a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ObjectRef
from .client import ApiError as KubeError
from .signing import spec_digest

RETRIES = 5
T = TypeVar("T")
Live = dict[str, Any]


def only_bookkeeping_moved(live: Live, fresh: Live) -> bool:
    """Whether `fresh` is `live` with nothing but status/metadata bookkeeping changed."""
    old, new = live.get("metadata") or {}, fresh.get("metadata") or {}
    return (
        old.get("uid") == new.get("uid")
        and old.get("generation") == new.get("generation")
        and not new.get("deletionTimestamp")
        and spec_digest(live.get("spec")) == spec_digest(fresh.get("spec"))
    )


def rebased(body: dict[str, Any], fresh: Live) -> dict[str, Any]:
    """`body` (a replacement written over an older read) written over `fresh` instead:
    its metadata as it is now (finalizers, resourceVersion), with the body's labels and
    annotations (the signed audit notes) on top."""
    mine = body.get("metadata") or {}
    meta = {k: v for k, v in (fresh.get("metadata") or {}).items() if k != "managedFields"}
    meta["labels"] = {**(meta.get("labels") or {}), **(mine.get("labels") or {})}
    meta["annotations"] = {**(meta.get("annotations") or {}), **(mine.get("annotations") or {})}
    return {**body, "metadata": meta}


def retrying(
    ref: ObjectRef,
    live: Live,
    attempt: Callable[[Live], T],
    get: Callable[[ObjectRef], Live | None],
) -> T:
    """`attempt(live)`, and again on what is there now while a 409 was only bookkeeping."""
    for n in range(1, RETRIES + 1):
        try:
            return attempt(live)
        except KubeError as exc:
            if exc.status != 409 or exc.body.get("reason") == "AlreadyExists" or n == RETRIES:
                raise
            fresh = get(ref)
            if fresh is None or not only_bookkeeping_moved(live, fresh):
                raise
            live = fresh
    raise AssertionError("unreachable")  # the loop returns or raises

"""The service's own read-modify-writes (PATCH …/enabled, POST …/routing) against an
object deleted and created again between their read and their write.

A generation names a version only within one life of an object: deleted and created
again, it starts at 1 again. A write checked against the generation it read alone
replaced the new object's spec with one computed from the old object's: the PUT
acknowledged meanwhile was lost, and the audit showed the old spec written twice (what
tests/adversarial/test_concurrency.py's schedules caught, now and then, under load).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from alertplane.service import crud, customers
from alertplane.service.access import Access
from alertplane.service.context import Context
from alertplane.service.objects import ALERT, RECEIVER, object_name
from alertplane.store.txn import Read, Stale
from tests.unit.service.test_crud import spec

NAME = "HighErrorRate"


def marked(mark: str) -> dict[str, Any]:
    return spec(annotations={"summary": "s", "description": mark})


def receiver(url: str) -> dict[str, Any]:
    return {"receiverName": "oncall", "webhook": [{"url": url}]}


def between_read_and_write(
    monkeypatch: pytest.MonkeyPatch, module: Any, meanwhile: Callable[[], None]
) -> None:
    """Run `meanwhile` once, the first time `module` builds the object it will write (after
    its read, before its write)."""
    real, done = module.build, []

    def build(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            meanwhile()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "build", build)


def trail(ctx: Context, name: str, what: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
    rows = ctx.store.history(name=object_name("acme", name), limit=100)
    return [(r.action, r.generation, what(r.before), what(r.after)) for r in rows]


def test_patch_enabled_does_not_write_onto_an_object_created_again(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    crud.create(ctx, acme, ALERT, marked("first"))
    crud.update(ctx, acme, ALERT, NAME, marked("old"))  # generation 2, read by the PATCH

    def recreate() -> None:  # … and generation 2 again, another spec, acknowledged
        crud.delete(ctx, acme, ALERT, NAME)
        crud.create(ctx, acme, ALERT, marked("new-create"))
        crud.update(ctx, acme, ALERT, NAME, marked("new"))

    between_read_and_write(monkeypatch, crud, recreate)
    out = crud.set_enabled(ctx, acme, NAME, False)
    assert (out["spec"]["annotations"]["description"], out["spec"]["enabled"]) == ("new", False)

    def mark(s: Any) -> Any:
        return None if s is None else (s["annotations"]["description"], s.get("enabled", True))

    assert trail(ctx, NAME, mark)[3:] == [
        ("create", 1, None, ("new-create", True)),
        ("update", 2, ("new-create", True), ("new", True)),
        # The PATCH read again and changed only `enabled` of what is there now.
        ("disable", 3, ("new", True), ("new", False)),
    ]


def test_routing_does_not_write_onto_a_receiver_created_again(
    ctx: Context, acme: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    crud.create(ctx, acme, RECEIVER, receiver("http://127.0.0.1:9097/first"))
    crud.update(ctx, acme, RECEIVER, "oncall", receiver("http://127.0.0.1:9097/old"))

    def recreate() -> None:
        crud.delete(ctx, acme, RECEIVER, "oncall")
        crud.create(ctx, acme, RECEIVER, receiver("http://127.0.0.1:9097/new-create"))
        crud.update(ctx, acme, RECEIVER, "oncall", receiver("http://127.0.0.1:9097/new"))

    between_read_and_write(monkeypatch, customers, recreate)
    (out,) = customers.set_routes(ctx, acme, {"routes": {"oncall": {"priority": 5}}})
    assert out["spec"]["webhook"] == [{"url": "http://127.0.0.1:9097/new"}]
    assert out["spec"]["route"]["priority"] == 5

    def url(s: Any) -> Any:
        if s is None:
            return None
        return s["webhook"][0]["url"].rsplit("/", 1)[1], (s.get("route") or {}).get("priority")

    assert trail(ctx, "oncall", url)[3:] == [
        ("create", 1, None, ("new-create", 100)),
        ("update", 2, ("new-create", 100), ("new", 100)),
        ("update", 3, ("new", 100), ("new", 5)),
    ]


def test_a_read_is_stale_when_the_spec_or_labels_differ_at_its_generation(
    ctx: Context, acme: Access
) -> None:
    crud.create(ctx, acme, ALERT, marked("first"))
    current = ctx.lookup(ALERT, acme, NAME)
    read = crud.read_of(current)
    assert read == Read(1, current.spec, {})
    obj, _ = crud.build(ALERT, "acme", marked("second"), current.ref)
    assert obj is not None
    for other in (Read(1, marked("other"), {}), Read(1, current.spec, {"team": "x"})):
        with pytest.raises(Stale):
            ctx.store.apply([obj], "t", "test", {current.ref: other})
    (change,) = ctx.store.apply([obj], "t", "test", {current.ref: read})
    assert (change.action, change.generation) == ("configured", 2)

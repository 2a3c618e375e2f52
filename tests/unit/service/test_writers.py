"""The writers: the store's, and the twin that records another door's source."""

from __future__ import annotations

import pytest

from alertplane.errors import Conflict
from alertplane.service.context import Context
from alertplane.service.writers import Moving, SourcedWriter, StoreWriter
from alertplane.validate import parse_document
from tests.support.factories import alert


def test_a_create_never_replaces_and_the_source_is_the_door_s(ctx: Context) -> None:
    obj, problems = parse_document(alert())
    assert obj is not None and not problems
    writer = SourcedWriter(ctx.writer, "console")
    change = writer.create(obj, "acme-ci", "api")
    assert (change.action, change.generation) == ("created", 1)
    exists = "alert 'HighErrorRate' at severity 'critical' already exists"
    with pytest.raises(Conflict, match=exists):
        writer.create(obj, "acme-ci", "api")
    (row,) = ctx.store.history("acme", None, 10)
    assert (row.source, row.actor) == ("console", "acme-ci")


def test_only_the_admin_s_writer_may_move_objects(ctx: Context) -> None:
    assert isinstance(ctx.writer, StoreWriter) and isinstance(ctx.writer, Moving)
    assert not ctx.writer.moves
    assert isinstance(ctx.mover, StoreWriter) and ctx.mover.moves
    assert not isinstance(SourcedWriter(ctx.writer, "console"), Moving)

"""A service context on a fresh SQLite store, without a reconciler or a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.render.platform import PlatformConfig
from alertplane.service.access import Access
from alertplane.service.context import ApiSettings, Context
from alertplane.service.tokens import Principal
from alertplane.store.db import open_db
from alertplane.store.repo import Store

ADMIN = Principal("admin", None)
ACME = Principal("acme-ci", "acme")
GLOBEX = Principal("globex-ci", "globex")


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    store = Store(open_db(f"sqlite:///{tmp_path / 'db.sqlite'}"), secrets_dir=str(tmp_path))
    return Context(None, store, ApiSettings(), platform=PlatformConfig())


@pytest.fixture
def acme() -> Access:
    return Access(ACME, "acme")

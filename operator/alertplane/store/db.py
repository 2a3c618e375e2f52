"""Engine and schema: SQLite file by default, PostgreSQL by URL; Alembic owns the schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import UsageError

DEFAULT_DB = "sqlite:///alertplane.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("ALERTPLANE_DB") or DEFAULT_DB


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(
            f"invalid database URL {url!r}",
            "use sqlite:///FILE or postgresql+psycopg://user@host/db",
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.drivername.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # The API serves up to ~40 requests at once (uvicorn's thread pool); a pool smaller
        # than that opens and closes a PostgreSQL backend per request beyond it.
        kwargs.update(pool_size=20, max_overflow=20)
    engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.drivername.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `alertplane apply` write while `serve` reads; NORMAL sync is durable in WAL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    # Imported here: Alembic (with Mako) is ~10 MB resident, and the operator without a
    # database never migrates anything.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_db(url: str | None = None) -> sessionmaker[Session]:
    engine = make_engine(database_url(url))
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)

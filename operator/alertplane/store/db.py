"""Engine and schema: SQLite file by default, PostgreSQL by URL; Alembic owns the schema.

Every way a database setting can be wrong is told apart here, once, for every door: a URL
alertplane cannot use or an SQLite file in a folder that does not exist is a usage error
(the setting must change); a server that does not answer is `DatabaseUnavailable` (the
setting may be right: `serve` and `operator` wait for it). Messages name the URL with its
password masked.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import AlertplaneError, UsageError

DEFAULT_DB = "sqlite:///alertplane.db"
MIGRATIONS = Path(__file__).parent / "migrations"
SUPPORTED = "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB"
DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
FIX_DOWN = (
    "check that the database server is running and reachable and that --db (or "
    "$ALERTPLANE_DB) names it"
)

log = logging.getLogger("alertplane.db")


class DatabaseUnavailable(AlertplaneError):
    """The database named by a valid URL does not answer (down, unreachable, refused)."""


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("ALERTPLANE_DB") or DEFAULT_DB


def masked(url: str | URL) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def parse_url(url: str) -> URL:
    """The URL alertplane connects with, or a UsageError saying why it cannot."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"invalid database URL {masked(url)!r}", f"use {SUPPORTED}") from exc
    driver = DRIVERS.get(parsed.drivername)
    if driver is None:
        raise UsageError(
            f"unsupported database URL {masked(url)!r}: alertplane stores its objects in "
            "SQLite or PostgreSQL",
            f"use {SUPPORTED}",
        )
    parsed = parsed.set(drivername=driver)
    path = sqlite_path(parsed)
    if path is not None and not path.parent.is_dir():
        raise UsageError(
            f"database {masked(url)!r}: the folder {path.parent} does not exist",
            f"create it (mkdir -p {path.parent}) or pass another --db",
        )
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite URL; None for PostgreSQL and in-memory SQLite."""
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.drivername.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # The API serves up to ~40 requests at once (uvicorn's thread pool); a pool smaller
        # than that opens and closes a PostgreSQL backend per request beyond it.
        kwargs.update(pool_size=20, max_overflow=20)
        if "connect_timeout" not in parsed.query:  # an unreachable host fails, not hangs
            kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:  # a driver that is not installed
        raise UsageError(
            f"unsupported database URL {masked(url)!r}: {exc}", f"use {SUPPORTED}"
        ) from exc
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


def unavailable(engine: Engine, exc: BaseException) -> DatabaseUnavailable:
    """What a failed connection means, in one line, with the masked URL."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    reason = " ".join(str(orig).split()) or type(orig).__name__
    return DatabaseUnavailable(f"database {masked(engine.url)} unavailable: {reason}", FIX_DOWN)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    # Imported here: Alembic (with Mako) is ~10 MB resident, and the operator without a
    # database never migrates anything.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except (SQLAlchemyError, OSError) as exc:
        raise unavailable(engine, exc) from exc


def exists(engine: Engine) -> bool:
    """Whether alertplane's schema is there (without creating anything, not even a file)."""
    path = sqlite_path(engine.url)
    if path is not None and not path.is_file():
        return False
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    except (SQLAlchemyError, OSError) as exc:
        raise unavailable(engine, exc) from exc


def open_db(url: str | None = None, create: bool = True) -> sessionmaker[Session]:
    """The database, its schema brought up to date. `create=False` (every command that
    only reads or changes what is there) refuses a database that does not exist yet rather
    than creating an empty one."""
    engine = make_engine(database_url(url))
    if not create and not exists(engine):
        engine.dispose()
        raise UsageError(
            f"no database at {_where(engine.url)}",
            "run `alertplane apply` first, or pass --db (or set $ALERTPLANE_DB)",
        )
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


def _where(url: URL) -> str:
    path = sqlite_path(url)
    if path is None:
        return masked(url)
    return str(path) if path.is_absolute() else f"./{path}"


def wait_for_database(
    engine: Engine,
    stop: threading.Event,
    on_retry: Callable[[], None] | None = None,
    max_delay_s: float = 10.0,
) -> bool:
    """Migrate, retrying with backoff while the database is unavailable (one log line per
    attempt, `on_retry` called). False when `stop` was set first."""
    delay = 0.5
    while not stop.is_set():
        try:
            migrate(engine)
            if delay > 0.5:
                log.info("database %s is available", masked(engine.url))
            return True
        except DatabaseUnavailable as exc:
            log.warning("%s; retrying in %.1fs", exc, delay)
            if on_retry is not None:
                on_retry()
            if stop.wait(delay):
                break
            delay = min(delay * 2, max_delay_s)
    return False

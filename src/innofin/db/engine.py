"""Engine and session factory; a unit of work owns each transaction."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from innofin.kernel.errors import InvalidInput
from innofin.kernel.settings import Settings

#: how long a SQLite writer waits for the write lock before "database is locked" (the API answers
#: 503 with Retry-After then)
SQLITE_BUSY_MS = 30_000

#: how to write a database URL, for the errors that refuse one
URL_FORMS = "sqlite:///path/to/innofin.db or postgresql+psycopg://user:password@host:5432/name"


def database_url(url: str) -> URL:
    """`url` as SQLAlchemy reads it. ``postgres://`` (Heroku's and libpq's spelling) and
    ``postgresql://`` mean PostgreSQL through psycopg 3, the driver innofin installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    try:
        return make_url(url)
    except ArgumentError:
        raise InvalidInput(
            f"{url!r} is not a database URL: write {URL_FORMS}", field="INNOFIN_DATABASE_URL"
        ) from None


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite database URL (None for another database or an in-memory one)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def make_engine(
    url: str | None = None, *, sqlite_busy_ms: int = SQLITE_BUSY_MS, **kwargs: Any
) -> Engine:
    """Create an engine for `url` (default: `INNOFIN_DATABASE_URL`, else ./innofin.db)."""
    parsed = database_url(url or Settings.from_env().database_url)
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError):
        shown = parsed.render_as_string(hide_password=True)
        raise InvalidInput(
            f"innofin cannot open {shown}: it speaks SQLite and PostgreSQL; write {URL_FORMS}",
            field="INNOFIN_DATABASE_URL",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", functools.partial(_busy_timeout, sqlite_busy_ms))
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _busy_timeout(milliseconds: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # REPLACE's implicit delete then fires the delete triggers of the append-only tables
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_FACTORIES: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The engine's session factory, made once (a new `sessionmaker` costs more than a query)."""
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES[engine] = sessionmaker(engine, expire_on_commit=False)
    return factory


_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def reader(engine: Engine) -> Engine:
    """The engine in autocommit mode, for reads that need no transaction: each statement stands
    alone, which saves the BEGIN and COMMIT (or ROLLBACK) round trips on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        # pysqlite issues no BEGIN before a SELECT anyway, and switching its isolation level on
        # every checkout costs a PRAGMA each time
        return engine
    found = _READERS.get(engine)
    if found is None:
        found = _READERS[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


@contextmanager
def unit_of_work(engine: Engine, *, immediate: bool = False, **info: Any) -> Iterator[Session]:
    """One transaction: commits when the block ends normally, rolls back on any exception.

    `info` goes to `Session.info` (the audit trail reads the acting user from ``actor``).
    `immediate` takes SQLite's write lock at the start (BEGIN IMMEDIATE), so that concurrent
    read-then-write transactions queue instead of failing when they try to write; PostgreSQL
    needs nothing of the kind (row locks and unique keys serialise what must be serialised).
    """
    with session_factory(engine)() as session, session.begin():
        session.info.update(info)
        if immediate and engine.dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session

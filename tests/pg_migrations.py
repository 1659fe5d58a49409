"""Migrating a PostgreSQL test schema by replaying what `upgrade` sent the first time.

Alembic reflects tables as it migrates (dozens of catalog queries) and every test's schema
starts empty, so the first schema of a session is migrated by `upgrade` while its statements are
recorded, and later schemas get the same statements, catalog queries left out, in one
transaction. tests/integration/test_pg_migrations.py checks that both give the same schema.
Statements that name their schema are never replayed: such a history is migrated each time.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event, text

from innofin.db.migrate import upgrade


class MigrationReplay:
    def __init__(self) -> None:
        self._statements: list[tuple[str, Any]] | None = None
        self._replayable = True
        self._lock = threading.Lock()

    def migrate(self, engine: Engine) -> None:
        """Bring `engine`'s schema (empty, first on its search path) to the head revision."""
        with self._lock:
            statements = self._statements
            if statements is None:
                self._statements = self._record(engine)
                return
        if not self._replayable:
            upgrade(engine)
            return
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            with driver.cursor() as cur:
                for statement, parameters in statements:
                    if isinstance(parameters, list):
                        cur.executemany(statement, parameters)
                    else:
                        cur.execute(statement, parameters)
            driver.commit()
        finally:
            raw.close()

    def _record(self, engine: Engine) -> list[tuple[str, Any]]:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        sent: list[tuple[str, Any]] = []

        def record(*args: Any) -> None:
            _conn, _cursor, statement, parameters, _context, _many = args
            sent.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            upgrade(engine)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        self._replayable = not any(schema in f"{s} {p!r}" for s, p in sent)
        return [(s, p) for s, p in sent if not _reads_catalog(s)]


def _reads_catalog(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT") and "pg_catalog." in statement

"""Bulk upsert by natural key, for imports and the demo generator.

One statement per batch through the driver's executemany (SQLite) or multi-row VALUES
(PostgreSQL, SQLAlchemy's insertmanyvalues), inside the caller's transaction: the caller decides
whether a whole file commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, cast, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def upsert_statement(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    merge_json: Iterable[str] = (),
) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE for SQLite and PostgreSQL.

    `update` lists the columns a conflicting row takes from the new one (default: every column
    given that is not the key); `merge_json` lists JSON columns merged key by key (the new keys
    win) instead of replaced — used for per-field lineage.
    """
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:  # pragma: no cover - guarded by make_engine's supported URLs
        raise ValueError(f"bulk upsert does not support {dialect}")
    merged = set(merge_json)
    columns = [c for c in (update or ()) if c not in key]
    set_: dict[str, ColumnElement[Any]] = {}
    for name in columns:
        new = stmt.excluded[name]
        if name in merged:
            old = table.c[name]
            if dialect == "sqlite":
                set_[name] = func.json_patch(func.coalesce(old, "{}"), new)
            else:
                set_[name] = func.coalesce(old, cast(literal("{}"), old.type)).op("||")(new)
        else:
            set_[name] = new
    if not set_:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=set_)


def bulk_upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    update: Sequence[str] | None = None,
    merge_json: Iterable[str] = (),
) -> int:
    """Upsert `rows` (all with the same keys) into `table`; returns the number of rows sent."""
    if not rows:
        return 0
    if update is None:
        update = [c for c in rows[0] if c not in key]
    stmt = upsert_statement(conn, table, key, update, merge_json)
    conn.execute(stmt, list(rows))
    return len(rows)

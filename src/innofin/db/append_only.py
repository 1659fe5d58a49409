"""Append-only tables: database triggers that refuse UPDATE, DELETE, REPLACE and TRUNCATE, for
migrations."""

from __future__ import annotations

from typing import Any


def create(op: Any, table: str) -> None:
    """The database itself refuses UPDATE and DELETE on `table` (PL/pgSQL on PostgreSQL,
    RAISE(ABORT) triggers on SQLite)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{table} is append-only: % refused', TG_OP; END $$"""
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
        )


def drop(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {table}_append_only()")
    # SQLite drops a table's triggers with the table


#: the unique columns through which an INSERT OR REPLACE could delete a row of each table
UNIQUE_KEYS: dict[str, list[tuple[str, ...]]] = {
    "ledger_event": [("id",), ("idempotency_key",), ("reverses_id",)],
    "limit_entry": [("id",), ("account", "account_id", "kind", "source", "source_id")],
    "audit_event": [("id",)],
}


def refuse_replace_and_truncate(op: Any, table: str) -> None:
    """PostgreSQL: a statement trigger refuses TRUNCATE (the row triggers never see it).

    SQLite: REPLACE's implicit delete fires no delete trigger unless `recursive_triggers` is on
    (innofin turns it on for every connection); so that a connection without it cannot rewrite
    a row either, a BEFORE INSERT trigger per unique key refuses an insert that would collide
    with (and so, under REPLACE, delete) an existing row. An ordinary insert with a duplicate key
    fails as before, the message still naming the key's column."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for columns in UNIQUE_KEYS[table]:
        match = " AND ".join(f"old.{c} = NEW.{c}" for c in columns)
        named = ", ".join(f"{table}.{c}" for c in columns)
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_{'_'.join(columns)} BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} AS old WHERE {match}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
            f"UNIQUE constraint failed: {named}'); END"
        )


def allow_replace_and_truncate(op: Any, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        return
    for columns in UNIQUE_KEYS[table]:
        op.execute(f"DROP TRIGGER {table}_no_replace_{'_'.join(columns)}")

"""Writing Polars frames fast, with values already in their stored form.

The one bulk write path of innofin (imports, the demo generator, later bank returns). A frame holds
`Money`/`Quantity` columns as Int64 counts of fen (ten-thousandths for `Quantity`), dates as
`pl.Date`, moments as zone-aware `pl.Datetime`, booleans as `pl.Boolean` and JSON as text; no
value ever passes through `float`.

- SQLite: one INSERT (or the upsert of `db.bulk.upsert_statement`) through the driver's
  executemany, with the integers, ISO dates and JSON text the column types would have bound.
- PostgreSQL: the batch is rendered as CSV by Polars (fen as exact decimal text) and COPYed — into
  the table for plain inserts, or into a temporary staging table followed by one
  INSERT … SELECT … ON CONFLICT carrying the same upsert clause.

SQLAlchemy's per-row parameter processing would cost more than everything else in a million-row
write; tests read every value back through the ORM types to show the two paths agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    LargeBinary,
    Table,
    column,
    insert,
    select,
    true,
)
from sqlalchemy import table as table_clause
from sqlalchemy.types import TypeEngine

from innofin.db import chain
from innofin.db.base import Money, Quantity
from innofin.db.bulk import upsert_statement
from innofin.kernel.money import decimal_text

__all__ = ["FrameWriter", "decimal_text", "stored_scale"]


def stored_scale(column_type: TypeEngine[Any]) -> int | None:
    """Decimal places of an exact column stored as scaled integers on SQLite (None for others)."""
    if isinstance(column_type, Money | Quantity):
        return int(column_type.scale)
    return None


class FrameWriter:
    """Insert (or, given `key`, upsert by that natural key) frames into one table.

    `columns` are the columns every frame carries; `update` the columns a conflicting row takes
    from the new one (default: all but the key); `merge_json` JSON columns merged key by key.
    """

    def __init__(
        self,
        conn: Connection,
        table: Table,
        columns: Sequence[str],
        *,
        key: Sequence[str] | None = None,
        update: Sequence[str] | None = None,
        merge_json: Sequence[str] = (),
    ) -> None:
        self.conn, self.table = conn, table
        self.columns = list(columns)
        #: an append-only table's rows join its tamper-evident chain as they are written
        self.chained = table.name in chain.COLUMNS and key is None
        if self.chained and chain.HASH not in self.columns:
            self.columns.append(chain.HASH)
        stmt: Any
        if key is None:
            stmt = insert(table)
        else:
            changed = [c for c in (update or self.columns) if c not in key]
            stmt = upsert_statement(conn, table, key, changed, merge_json)
        if conn.dialect.name == "sqlite":
            compiled = stmt.compile(
                dialect=conn.dialect, column_keys=self.columns, for_executemany=True
            )
            self.sql = compiled.string
            self.names: list[str] = list(compiled.positiontup or [])
            self.literals = {k: v for k, v in compiled.params.items() if k not in self.columns}
            return
        names = ", ".join(f'"{c}"' for c in self.columns)
        target = table.name if table.schema is None else f'"{table.schema}"."{table.name}"'
        if key is None:
            self.staging = None
            self.copy = f"COPY {target} ({names}) FROM STDIN (FORMAT csv)"
            return
        self.staging = f"innofin_staging_{table.name}"
        conn.exec_driver_sql(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{self.staging}" ON COMMIT DROP AS '
            f"SELECT {names} FROM {target} WITH NO DATA"
        )
        conn.exec_driver_sql(f'TRUNCATE "{self.staging}"')
        staging = table_clause(self.staging, *(column(c) for c in self.columns))
        self.upsert = stmt.from_select(self.columns, select(*staging.c).where(true()))
        self.copy = f'COPY "{self.staging}" ({names}) FROM STDIN (FORMAT csv)'

    def write(self, frame: pl.DataFrame) -> int:
        """Write the rows of `frame` (which holds at least the writer's columns)."""
        if frame.height == 0:
            return 0
        if self.chained:
            frame = chain.seal_frame(self.conn, self.table, frame)
        if self.conn.dialect.name == "sqlite":
            exprs = [
                pl.lit(self.literals[n]).alias(n) if n not in self.columns else self._sqlite(n)
                for n in self.names
            ]
            self.conn.exec_driver_sql(self.sql, frame.select(exprs).rows())
            return frame.height
        text = frame.select(self._text(c) for c in self.columns).write_csv(include_header=False)
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(self.copy) as copy:
            copy.write(text)
        if self.staging is not None:
            self.conn.execute(self.upsert)
            self.conn.exec_driver_sql(f'TRUNCATE "{self.staging}"')
        return frame.height

    def _sqlite(self, name: str) -> pl.Expr:
        kind = self.table.c[name].type
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            # SQLAlchemy's SQLite DATETIME text, in UTC (what `UtcDateTime` reads back)
            return _utc(name).dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
        if isinstance(kind, Date):
            return pl.col(name).cast(pl.Utf8)
        if isinstance(kind, Boolean):
            return pl.col(name).cast(pl.Int64)
        return pl.col(name)

    def _text(self, name: str) -> pl.Expr:
        kind = self.table.c[name].type
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            return _utc(name).dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00")
        if isinstance(kind, LargeBinary):
            # bytea's hex input form
            return pl.concat_str([pl.lit("\\x"), pl.col(name).bin.encode("hex")]).alias(name)
        scale = stored_scale(kind)
        return decimal_text(name, scale) if scale is not None else pl.col(name)


def _utc(name: str) -> pl.Expr:
    """A moment column in UTC (frames hold moments as zone-aware `pl.Datetime`)."""
    return pl.col(name).dt.convert_time_zone("UTC")

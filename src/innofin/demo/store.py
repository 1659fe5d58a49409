"""Writing generated tables: batched Core inserts with values already in their stored form.

Why not the ORM, or Decimal values through the `Money` type: at national scale the indicator
reports alone are 1.5 million rows × 10 money columns. Turning each fen count into a `Decimal`
that `Money` then quantises and turns back into fen costs minutes; serialising the same lineage
document 1.5 million times costs half a minute more. So each table is written through a
*stored twin*: the same columns, with `Money`/`Quantity` replaced by the type they are stored as
on this database (INTEGER fen on SQLite, NUMERIC on PostgreSQL) and, on SQLite, JSON by the text
it is stored as. Exact values still never pass through `float`: the engine hands over scaled int64
and this module gives SQLite those integers and PostgreSQL `Decimal`s built from them.

Local ids from the engine are shifted past the rows already in each table, following the foreign
keys of the real table, so generating into a database that holds imported data is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.sql.type_api import TypeEngine

from innofin.db.base import Money, Quantity
from innofin.demo.engine import json_text
from innofin.kernel.indicators import REPORT_FIELDS

#: Rows per executemany: big enough to amortise the statement, small enough to bound memory.
BATCH_ROWS = 50_000


@dataclass
class WriteContext:
    """One write run: the connection (one transaction), the demo source and the id offsets."""

    conn: Connection
    source_id: int
    offsets: dict[str, int] = field(default_factory=dict)
    progress: Callable[[int], None] | None = None
    batch_rows: int = BATCH_ROWS
    twins: dict[str, Table] = field(default_factory=dict, repr=False)

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name


def id_offsets(conn: Connection, tables: Mapping[str, Table]) -> dict[str, int]:
    """The largest id already in each table (0 when empty): local id k is written as offset + k."""
    return {
        name: int(conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one())
        for name, t in tables.items()
        if "id" in t.c
    }


def stored_twin(table: Table, conn: Connection) -> Table:
    """A write-only copy of `table` whose columns take values in their stored form: `Money` and
    `Quantity` as their dialect type (scaled INTEGER on SQLite, NUMERIC elsewhere), JSON as text
    on SQLite. Used for writing only; reads go through the real models."""
    columns = []
    for col in table.c:
        typ: TypeEngine[Any] = col.type
        if isinstance(typ, (Money, Quantity)):
            typ = typ.load_dialect_impl(conn.dialect)
        elif isinstance(typ, JSON) and conn.dialect.name == "sqlite":
            typ = Text()
        columns.append(Column(col.name, typ, primary_key=col.primary_key))
    return Table(table.name, MetaData(), *columns, schema=table.schema)


def write_frame(ctx: WriteContext, table: Table, frame: pl.DataFrame) -> int:
    """Insert every row of `frame` into `table`; returns the number of rows written."""
    twin = ctx.twins.setdefault(table.name, stored_twin(table, ctx.conn))
    frame = _shift_ids(ctx, table, frame)
    if "source_id" in table.c and "source_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(ctx.source_id, dtype=pl.Int64).alias("source_id"))
    if "lineage" in table.c and "lineage" not in frame.columns:
        frame = frame.with_columns(lineage_texts(frame, ctx.source_id))
    names = frame.columns
    converters = [_converter(ctx, table.c[name].type, twin.c[name].type) for name in names]
    for start in range(0, frame.height, ctx.batch_rows):
        part = frame.slice(start, ctx.batch_rows)
        values = [convert(part[name]) for name, convert in zip(names, converters, strict=True)]
        _insert(ctx, twin, names, values)
        if ctx.progress is not None:
            ctx.progress(part.height)
    return frame.height


def _insert(ctx: WriteContext, twin: Table, names: list[str], values: list[list[Any]]) -> None:
    """One executemany. On SQLite the values are already exactly what SQLAlchemy would store
    (integer fen, JSON text, ISO dates), so they go to the driver as tuples, skipping the
    per-row parameter processing that is three quarters of the time at national scale."""
    rows = zip(*values, strict=True)
    if ctx.dialect == "sqlite":
        quote = ctx.conn.dialect.identifier_preparer
        sql = (
            f"INSERT INTO {quote.format_table(twin)} "
            f"({', '.join(quote.format_column(twin.c[n]) for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        ctx.conn.exec_driver_sql(sql, list(rows))
    else:
        ctx.conn.execute(insert(twin), [dict(zip(names, row, strict=True)) for row in rows])


def lineage_texts(frame: pl.DataFrame, source_id: int) -> pl.Series:
    """Per row, ``{field: [source_id, as_of]}`` for the report fields it sets, as JSON text.

    Rows share few distinct patterns of missing fields, so each document is built once per
    (pattern, as_of) and joined back, not serialised per row.
    """
    fields = [f for f in REPORT_FIELDS if f in frame.columns]
    pattern = pl.sum_horizontal(
        *(pl.col(f).is_not_null().cast(pl.Int64) * (1 << i) for i, f in enumerate(fields))
    )
    keys = frame.select(pattern.alias("pattern"), pl.col("as_of"))
    distinct = keys.unique(maintain_order=True)
    docs = [
        json_text(
            {f: [source_id, as_of.isoformat()] for i, f in enumerate(fields) if bits >> i & 1}
        )
        for bits, as_of in distinct.iter_rows()
    ]
    lookup = distinct.with_columns(pl.Series("lineage", docs, dtype=pl.String))
    return keys.join(lookup, on=["pattern", "as_of"], how="left", maintain_order="left")["lineage"]


def _shift_ids(ctx: WriteContext, table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    shifts = []
    for name in frame.columns:
        col = table.c[name]
        target = table.name if name == "id" else None
        for fk in col.foreign_keys:
            if fk.column.name == "id":
                target = fk.column.table.name
        offset = ctx.offsets.get(target or "", 0)
        if offset:
            shifts.append((pl.col(name) + offset).alias(name))
    return frame.with_columns(shifts) if shifts else frame


def _converter(
    ctx: WriteContext, model_type: TypeEngine[Any], stored_type: TypeEngine[Any]
) -> Callable[[pl.Series], list[Any]]:
    if isinstance(model_type, (Money, Quantity)) and not isinstance(stored_type, Integer):
        exponent = -model_type.scale

        def to_decimal(series: pl.Series) -> list[Any]:
            return [None if v is None else Decimal(v).scaleb(exponent) for v in series.to_list()]

        return to_decimal
    if isinstance(model_type, JSON) and ctx.dialect != "sqlite":
        parsed: dict[str, Any] = {}  # few distinct documents (lineage patterns): parse each once

        def document(text: str | None) -> Any:
            if text is None:
                return None
            if text not in parsed:
                parsed[text] = json.loads(text)
            return parsed[text]

        return lambda series: [document(v) for v in series.to_list()]
    if ctx.dialect == "sqlite":
        if isinstance(model_type, Date):
            return _iso_dates
        # The driver path skips SQLAlchemy's processing: apply the type's own, value by value.
        process = stored_type.dialect_impl(ctx.conn.dialect).bind_processor(ctx.conn.dialect)
        if process is not None:
            return lambda series: [process(v) for v in series.to_list()]
    return pl.Series.to_list


def _iso_dates(series: pl.Series) -> list[Any]:
    """Dates as SQLAlchemy stores them on SQLite: 'YYYY-MM-DD' text."""
    return series.dt.to_string("%Y-%m-%d").to_list()

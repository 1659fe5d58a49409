"""Writing generated tables through `innofin.db.frames.FrameWriter`.

The engine hands over frames in stored form — `Money`/`Quantity` as scaled Int64 (never float),
dates as `pl.Date`, JSON as text — which the shared writer sends to SQLite through executemany and
to PostgreSQL through COPY. At national scale (1.5 million reports) going through `Decimal` values
and SQLAlchemy's per-row processing would take minutes.

Local ids from the engine are shifted past the rows already in each table, following the foreign
keys of the real table, so generating into a database that holds imported data is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import (
    Connection,
    Table,
    func,
    select,
)

from innofin.db.frames import FrameWriter
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


def write_frame(ctx: WriteContext, table: Table, frame: pl.DataFrame) -> int:
    """Insert every row of `frame` into `table`; returns the number of rows written."""
    frame = _shift_ids(ctx, table, frame)
    if "source_id" in table.c and "source_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(ctx.source_id, dtype=pl.Int64).alias("source_id"))
    if "lineage" in table.c and "lineage" not in frame.columns:
        frame = frame.with_columns(lineage_texts(frame, ctx.source_id))
    writer = FrameWriter(ctx.conn, table, frame.columns)
    for start in range(0, frame.height, ctx.batch_rows):
        part = frame.slice(start, ctx.batch_rows)
        writer.write(part)
        if ctx.progress is not None:
            ctx.progress(part.height)
    return frame.height


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

"""The database side of an import: lookups, the data source row, and the batch upsert.

`UpsertWriter` writes a batch with the statement `innofin.db.bulk.upsert_statement` builds (the
same ON CONFLICT and lineage merge as `bulk_upsert`), but with values already in the form the
column types would store: integer fen on SQLite, decimal text on PostgreSQL, ISO dates, JSON text.
SQLAlchemy's per-row parameter processing costs more than the whole rest of a million-row import;
the round-trip tests read every value back through the ORM types to show the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Table,
    bindparam,
    column,
    insert,
    select,
    true,
    update,
)
from sqlalchemy import table as table_clause
from sqlalchemy.orm import aliased
from sqlalchemy.types import TypeEngine

from innofin.db.base import Money, Quantity
from innofin.db.bulk import upsert_statement
from innofin.registry.models import (
    CertificationKindRef,
    DataSource,
    Enterprise,
    GrowthStageRef,
    IndicatorDefinition,
    Institution,
    TechFieldRef,
    Zone,
)

IN_CHUNK = 5_000  # parameters per IN (...) lookup; well under SQLite's and PostgreSQL's limits
_REFS: dict[str, Any] = {
    "tech_field": TechFieldRef,
    "growth_stage": GrowthStageRef,
    "certification_kind": CertificationKindRef,
}


def create_source(conn: Connection, name: str, sha256: str) -> int:
    """The lineage row of one import (rolled back with it if the import fails)."""
    stmt = insert(DataSource).values(kind="import", name=name[:300], sha256=sha256)
    return int(conn.execute(stmt.returning(DataSource.id)).scalar_one())


def code_ids(conn: Connection, model: Any) -> dict[str, int]:
    """code → id for a small table with a unique code (zones, institutions)."""
    return {code: ident for code, ident in conn.execute(select(model.code, model.id))}


def accepted_codes(conn: Connection, ref: str) -> dict[str, str]:
    """Spellings a file may use for a reference code (the code, or its Chinese or English name),
    lower-cased, to the code."""
    model = _REFS[ref]
    accepted: dict[str, str] = {}
    for code, zh, en in conn.execute(select(model.code, model.name_zh, model.name_en)):
        for spelling in (en, zh, code):
            accepted[spelling.strip().lower()] = code
    return accepted


def extension_units(conn: Connection) -> dict[str, str]:
    """Registered extension (non-core) indicator codes and their units."""
    rows = conn.execute(
        select(IndicatorDefinition.code, IndicatorDefinition.unit).where(
            IndicatorDefinition.is_core.is_(False)
        )
    )
    return {code: unit for code, unit in rows}


def enterprise_ids(conn: Connection, scheme: str, identifiers: Iterable[str]) -> dict[str, int]:
    """identifier → id for those of `identifiers` registered under `scheme`."""
    wanted = list(identifiers)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        query = select(Enterprise.identifier, Enterprise.id).where(
            Enterprise.id_scheme == scheme, Enterprise.identifier.in_(chunk)
        )
        found.update({ident: pk for ident, pk in conn.execute(query)})
    return found


def zone_ids(conn: Connection) -> dict[str, int]:
    return code_ids(conn, Zone)


def _scale(column_type: TypeEngine[Any]) -> int | None:
    if isinstance(column_type, Money | Quantity):
        return int(column_type.scale)
    return None


def stored_int(value: Any, column_type: TypeEngine[Any]) -> Any:
    """A value read through the ORM types in the integer scale the parsers produce."""
    scale = _scale(column_type)
    if value is None or scale is None:
        return value
    return int(Decimal(value).scaleb(scale))


def existing_values(
    conn: Connection, table: Table, key: Sequence[str], keys: pl.DataFrame, column: str
) -> pl.Series:
    """The stored value of `column` for each row of `keys` (null where there is no such row)."""
    first = key[0]
    wanted = keys[first].drop_nulls().unique().to_list()
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(wanted), IN_CHUNK):
        query = select(*(table.c[k] for k in key), table.c[column]).where(
            table.c[first].in_(wanted[start : start + IN_CHUNK])
        )
        found.extend(tuple(row) for row in conn.execute(query))
    column_type = table.c[column].type
    stored = pl.DataFrame(
        [(*row[:-1], stored_int(row[-1], column_type)) for row in found],
        schema={**{k: keys.schema[k] for k in key}, "__stored": _polars_type(column_type)},
        orient="row",
    )
    joined = keys.select(key).with_row_index("__i").join(stored, on=list(key), how="left")
    return joined.sort("__i")["__stored"]


def _polars_type(column_type: TypeEngine[Any]) -> Any:
    if isinstance(column_type, Date):
        return pl.Date
    if isinstance(column_type, Boolean):
        return pl.Boolean
    return (
        pl.Int64 if _scale(column_type) is not None or column_type.python_type is int else pl.Utf8
    )


def _decimal_text(name: str, scale: int) -> pl.Expr:
    """Integers in storage scale as decimal text (fen 12345 → "123.45"), without floats."""
    value = pl.col(name)
    whole = (value.abs() // 10**scale).cast(pl.Utf8)
    part = (value.abs() % 10**scale).cast(pl.Utf8).str.pad_start(scale, "0")
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, whole, pl.lit("."), part]).alias(name)


class UpsertWriter:
    """Upsert frames into one table by its natural key (see the module docstring).

    SQLite: the upsert statement through the driver's executemany, values in storage form.
    PostgreSQL: the batch is rendered as CSV by Polars, COPYed into a temporary staging table
    (dropped at commit) and upserted with one INSERT … SELECT carrying the same ON CONFLICT
    clause; per-row round trips would make a million rows take a quarter of an hour.
    """

    def __init__(
        self,
        conn: Connection,
        table: Table,
        key: Sequence[str],
        columns: Sequence[str],
        update: Sequence[str],
        merge_json: Sequence[str] = (),
    ) -> None:
        self.conn, self.table = conn, table
        self.columns = list(columns)
        stmt = upsert_statement(conn, table, key, [c for c in update if c not in key], merge_json)
        if conn.dialect.name == "sqlite":
            compiled = stmt.compile(
                dialect=conn.dialect, column_keys=self.columns, for_executemany=True
            )
            self.sql = compiled.string
            self.names: list[str] = list(compiled.positiontup or [])
            self.literals = {k: v for k, v in compiled.params.items() if k not in self.columns}
            return
        self.staging = f"innofin_ingest_{table.name}"
        names = ", ".join(f'"{c}"' for c in self.columns)
        conn.exec_driver_sql(
            f'CREATE TEMPORARY TABLE "{self.staging}" ON COMMIT DROP AS '
            f'SELECT {names} FROM "{table.name}" WITH NO DATA'
        )
        staging = table_clause(self.staging, *(column(c) for c in self.columns))
        self.insert = stmt.from_select(self.columns, select(*staging.c).where(true()))
        self.copy = f'COPY "{self.staging}" ({names}) FROM STDIN (FORMAT csv)'

    def write(self, frame: pl.DataFrame) -> int:
        """Upsert the rows of `frame` (which holds at least the writer's columns)."""
        if frame.height == 0:
            return 0
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
        self.conn.execute(self.insert)
        self.conn.exec_driver_sql(f'TRUNCATE "{self.staging}"')
        return frame.height

    def _sqlite(self, name: str) -> pl.Expr:
        kind = self.table.c[name].type
        if isinstance(kind, Date):
            return pl.col(name).cast(pl.Utf8)
        if isinstance(kind, Boolean):
            return pl.col(name).cast(pl.Int64)
        return pl.col(name)

    def _text(self, name: str) -> pl.Expr:
        scale = _scale(self.table.c[name].type)
        return _decimal_text(name, scale) if scale is not None else pl.col(name)


def link_parents(conn: Connection, pairs: Sequence[tuple[str, str]]) -> None:
    """Point institutions (code) at parents (code) written earlier in the same import."""
    if not pairs:
        return
    parent = aliased(Institution)
    parent_id = select(parent.id).where(parent.code == bindparam("parent_code")).scalar_subquery()
    stmt = (
        update(Institution)
        .where(Institution.code == bindparam("child_code"))
        .values(parent_id=parent_id)
    )
    conn.execute(stmt, [{"child_code": c, "parent_code": p} for c, p in pairs])

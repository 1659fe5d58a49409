"""The database side of an import: lookups, the data source row, stored values for comparison.

Batches are written by `innofin.db.frames.FrameWriter` (values in stored form, upsert by natural
key, lineage merged).
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
    insert,
    select,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.types import TypeEngine

from innofin.db.frames import stored_scale
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


def core_indicator_codes(conn: Connection) -> set[str]:
    """Codes of the core report fields, which a zone's own indicators may not reuse."""
    rows = conn.execute(select(IndicatorDefinition.code).where(IndicatorDefinition.is_core))
    return set(rows.scalars())


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


def stored_int(value: Any, column_type: TypeEngine[Any]) -> Any:
    """A value read through the ORM types in the integer scale the parsers produce."""
    scale = stored_scale(column_type)
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
        pl.Int64
        if stored_scale(column_type) is not None or column_type.python_type is int
        else pl.Utf8
    )


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

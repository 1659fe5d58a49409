"""Reading a year's scoring input from the database into columns (a `ScoringInput`).

The population of a year is every enterprise with an indicator report for that year. Money is read
as float64 yuan computed by the database from its exact value (NUMERIC on PostgreSQL, integer fen on
SQLite), so both give the same, correctly rounded doubles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from innofin.kernel.indicators import MONEY_FIELDS, REPORT_FIELDS
from innofin.scoring.engine import ScoringInput
from innofin.scoring.expressions import CERT, EXT, PREV
from innofin.scoring.system import System

NONE_LABEL = "-"


def _as_float(conn: Connection, column: str, scale: int) -> str:
    if conn.dialect.name == "sqlite":
        return f"{column} / {10**scale}.0"
    return f"CAST({column} AS DOUBLE PRECISION)"


def _report_columns(conn: Connection) -> str:
    out = []
    for name in REPORT_FIELDS:
        if name in MONEY_FIELDS:
            out.append(_as_float(conn, name, 2))
        else:
            out.append(
                f"CAST({name} AS DOUBLE PRECISION)"
                if conn.dialect.name != "sqlite"
                else f"{name} * 1.0"
            )
    return ", ".join(out)


def _aligned(
    ids: npt.NDArray[np.int64], rows: Sequence[tuple[object, ...]], width: int
) -> npt.NDArray[np.float64]:
    """Rows of (enterprise_id, v1, v2, …) placed on the positions of `ids` (NaN elsewhere)."""
    out = np.full((ids.shape[0], width), np.nan)
    if not rows or ids.shape[0] == 0:
        return out
    # plain tuples: NumPy probes each SQLAlchemy Row for the array protocol, which costs a
    # failed key lookup (an exception) per row and attribute — 10× the conversion itself
    arr = np.array([tuple(r) for r in rows], dtype=np.float64)
    pos = np.searchsorted(ids, arr[:, 0].astype(np.int64))
    ok = (pos < ids.shape[0]) & (ids[np.minimum(pos, ids.shape[0] - 1)] == arr[:, 0])
    out[pos[ok]] = arr[ok, 1:]
    return out


def _codes(values: Sequence[str | None]) -> tuple[npt.NDArray[np.int64], list[str]]:
    text = np.array([NONE_LABEL if v is None else str(v) for v in values], dtype=object)
    labels, inverse = np.unique(text.astype(str), return_inverse=True)
    return inverse.astype(np.int64), [str(x) for x in labels]


def load_input(conn: Connection, system: System, year: int) -> ScoringInput:
    """Every enterprise reported for `year`, with what `system` reads."""
    year_end = dt.date(year, 12, 31)
    report = conn.exec_driver_sql(
        f"SELECT enterprise_id, {_report_columns(conn)} FROM indicator_report "
        f"WHERE year = {int(year)} ORDER BY enterprise_id"
    ).fetchall()
    ids = np.array([r[0] for r in report], dtype=np.int64)
    values = _aligned(ids, report, len(REPORT_FIELDS))
    columns: dict[str, npt.NDArray[np.float64]] = {
        name: np.ascontiguousarray(values[:, i]) for i, name in enumerate(REPORT_FIELDS)
    }
    prev_fields = system.needs(PREV)
    if prev_fields:
        prev = conn.exec_driver_sql(
            f"SELECT enterprise_id, {_report_columns(conn)} FROM indicator_report "
            f"WHERE year = {int(year) - 1}"
        ).fetchall()
        pv = _aligned(ids, prev, len(REPORT_FIELDS))
        names = list(REPORT_FIELDS)
        for f in prev_fields:
            columns[PREV + f] = np.ascontiguousarray(pv[:, names.index(f)])
    kinds = system.needs(CERT)
    if kinds:
        held = conn.exec_driver_sql(
            "SELECT DISTINCT enterprise_id, kind FROM certification "
            "WHERE valid_from <= ? AND (valid_until IS NULL OR valid_until >= ?)"
            if conn.dialect.name == "sqlite"
            else "SELECT DISTINCT enterprise_id, kind FROM certification "
            "WHERE valid_from <= %s AND (valid_until IS NULL OR valid_until >= %s)",
            (year_end, year_end),
        ).fetchall()
        for kind in kinds:
            flags = [(e, 1.0) for e, k in held if k == kind]
            columns[CERT + kind] = np.nan_to_num(_aligned(ids, flags, 1)[:, 0], nan=0.0)
    for code in system.needs(EXT):
        rows = conn.exec_driver_sql(
            f"SELECT enterprise_id, {_as_float(conn, 'value', 4)} FROM indicator_value "
            f"WHERE year = {int(year)} AND indicator_code = "
            + ("?" if conn.dialect.name == "sqlite" else "%s"),
            (code,),
        ).fetchall()
        columns[EXT + code] = _aligned(ids, rows, 1)[:, 0].copy()
    ent = conn.exec_driver_sql(
        "SELECT e.id, z.code, z.province, e.tech_field, e.growth_stage, e.founded_on "
        "FROM enterprise e LEFT JOIN zone z ON z.id = e.zone_id "
        f"WHERE e.id IN (SELECT enterprise_id FROM indicator_report WHERE year = {int(year)}) "
        "ORDER BY e.id"
    ).fetchall()
    assert [r[0] for r in ent] == ids.tolist()
    codes: dict[str, npt.NDArray[np.int64]] = {}
    labels: dict[str, list[str]] = {}
    for key, col in (("zone", 1), ("province", 2), ("field", 3)):
        codes[key], labels[key] = _codes([r[col] for r in ent])
    stages = system.stages
    index = {s: i for i, s in enumerate(stages)}
    default = index[system.spec.default_stage]
    codes["stage"] = np.array([index.get(r[4], default) for r in ent], dtype=np.int64)
    labels["stage"] = list(stages)
    bands = system.spec.size_bands
    size_value = columns[bands.field]
    codes["size"] = np.searchsorted(
        np.array(bands.bounds), np.nan_to_num(size_value, nan=0.0), side="right"
    ).astype(np.int64)
    labels["size"] = list(bands.names)
    founded = [r[5] for r in ent]
    columns["age"] = np.array(
        [np.nan if f is None else _age(_date(f), year_end) for f in founded], dtype=np.float64
    )
    return ScoringInput(ids, codes, labels, columns)


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _age(founded: dt.date, at: dt.date) -> float:
    return float(at.year - founded.year - ((at.month, at.day) < (founded.month, founded.day)))

"""The ledger's loans and the borrowers' facts as the track record reads them, fast: plain SQL
columns (money as whole fen, no row objects), kept beside the database engine while nothing they
come from changes.

A recommendation reads every loan to build the institutions' track records. Through the ORM,
each of the medium demo's 180,000 loans became a row of Decimals and dates (8 s of a 10 s
recommendation). Here the same columns come as plain values (fen: SQLite stores money so,
PostgreSQL's NUMERIC is scaled in the query) and are kept (`kept`) under a *fingerprint*:

- the loans (`fingerprint`): the number of loans, their largest id, sums over their lenders,
  borrowers, principals and defaulted ids, and the journal's last event — a new loan, a default or
  a class change, a reversal all change it;
- the firms' zone, field and latest revenue (`registry_mark`): the audit trail's last event
  (every write to enterprises and reports through the platform is audited, an import too) and
  the two tables' counts and largest ids.

`columns._track_record` keeps the coded loans and the cells a reason may quote under both. The
tests hold all of it equal to the reading from scratch through the ORM on a hand-made ledger
(`tests/integration/test_matching_history.py`), before and after each kind of change.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

#: classes that count as defaulted (the last three of the five categories)
NON_PERFORMING = ("substandard", "doubtful", "loss")

_lock = threading.Lock()
#: per engine, per reading ("loans", "firms", "track"): its fingerprint and its value
_kept: weakref.WeakKeyDictionary[Engine, dict[str, tuple[tuple[Any, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)
T = TypeVar("T")

LOAN_SCHEMA = {
    "institution_id": pl.Int64,
    "enterprise": pl.Int64,
    "drawn_on": pl.Date,
    "fen": pl.Int64,
    "defaulted": pl.Boolean,
}


def _fen(session: Session, column: str) -> str:
    pg = session.get_bind().dialect.name == "postgresql"
    return f"CAST(ROUND({column} * 100) AS BIGINT)" if pg else column


def _defaulted() -> str:
    classes = ", ".join(f"'{c}'" for c in NON_PERFORMING)
    return f"(defaulted_on IS NOT NULL OR category IN ({classes}))"


def _frame(session: Session, sql: str, schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of `sql` as a frame of `schema`, through the driver's cursor (no row objects);
    dates stored as text (SQLite) are parsed."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    sqlite = session.get_bind().dialect.name == "sqlite"
    read = {k: (pl.String if v == pl.Date and sqlite else v) for k, v in schema.items()}
    frame = pl.DataFrame(rows, schema=read, orient="row")
    dates = [k for k, v in schema.items() if v == pl.Date and sqlite]
    return frame.with_columns(pl.col(k).str.to_date("%Y-%m-%d") for k in dates)


def yuan(fen: pl.Series) -> pl.Series:
    """Fen as yuan in float64 (analytics), correctly rounded as the decimal would be (NumPy's
    division: Polars multiplies by the reciprocal, a last bit off now and then)."""
    return pl.Series(fen.name, fen.cast(pl.Float64).to_numpy() / 100)


def fingerprint(session: Session) -> tuple[Any, ...]:
    """What changes whenever a loan's columns here could: one scan of the loan table, the
    journal's last event."""
    row = session.execute(
        text(
            "SELECT COUNT(*), MAX(id), SUM(institution_id), SUM(enterprise_id), "
            f"SUM({_fen(session, 'principal')}), "
            f"SUM(CASE WHEN {_defaulted()} THEN id ELSE 0 END), "
            "SUM(id * enterprise_id % 1000003) FROM loan"
        )
    ).one()
    last = session.execute(text("SELECT MAX(id) FROM ledger_event")).scalar()
    return (*(None if v is None else int(v) for v in row), last)


def read_loans(session: Session, until: dt.date | None = None) -> pl.DataFrame:
    """Every loan (drawn up to `until`): lender, borrower, day drawn, principal in fen, whether
    it defaulted. Read from the table, no cache."""
    sql = (
        "SELECT institution_id, enterprise_id, drawn_on, "
        f"{_fen(session, 'principal')}, {_defaulted()} FROM loan"
    )
    if until is not None:  # a date, not text: no quoting to get wrong
        sql += f" WHERE drawn_on <= '{until.isoformat()}'"
    return _frame(session, sql, LOAN_SCHEMA)


def kept(session: Session, name: str, mark: tuple[Any, ...], read: Callable[[Session], T]) -> T:
    """`read(session)`, kept under `name` beside the session's engine while `mark` holds (the
    value is shared: never change it)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _lock:
        found = _kept.get(engine, {}).get(name)
    if found is not None and found[0] == mark:
        value: T = found[1]
        return value
    value = read(session)
    with _lock:
        _kept.setdefault(engine, {})[name] = (mark, value)
    return value


def loans(session: Session, until: dt.date | None = None) -> pl.DataFrame:
    """`read_loans`, kept per engine while `fingerprint` holds (the whole ledger only: a reading
    up to a date is read each time)."""
    if until is not None:
        return read_loans(session, until)
    return kept(session, "loans", fingerprint(session), read_loans)


def forget() -> None:
    """Drop every kept reading (tests)."""
    with _lock:
        _kept.clear()


def registry_mark(session: Session) -> tuple[Any, ...]:
    """What changes whenever a firm's zone, field or revenue could: the audit journal's last
    event (every write to enterprises and reports through the platform is audited, an import
    too), and the two tables' counts and largest ids."""
    row = session.execute(
        text(
            "SELECT (SELECT MAX(id) FROM audit_event), (SELECT COUNT(*) FROM enterprise), "
            "(SELECT MAX(id) FROM enterprise), (SELECT COUNT(*) FROM indicator_report), "
            "(SELECT MAX(id) FROM indicator_report)"
        )
    ).one()
    return tuple(row)


def firms(session: Session) -> pl.DataFrame:
    """`read_firms`, kept per engine while `registry_mark` holds."""
    return kept(session, "firms", registry_mark(session), read_firms)


def read_firms(session: Session) -> pl.DataFrame:
    """Each enterprise's zone and field, and its revenue in yuan (float: analytics) in its
    latest report that has one (null when none has)."""
    ent = _frame(
        session,
        "SELECT id, zone_id, tech_field FROM enterprise",
        {"enterprise": pl.Int64, "zone_id": pl.Int64, "tech_field": pl.String},
    )
    reports = _frame(
        session,
        f"SELECT enterprise_id, year, {_fen(session, 'revenue')} FROM indicator_report "
        "WHERE revenue IS NOT NULL",
        {"enterprise": pl.Int64, "year": pl.Int64, "fen": pl.Int64},
    )
    latest = reports.sort("enterprise", "year").group_by("enterprise", maintain_order=True).last()
    latest = latest.select("enterprise", yuan(latest["fen"]).alias("revenue"))
    return ent.join(latest, on="enterprise", how="left")

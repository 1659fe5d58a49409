"""The balance cube's inputs, read from the database or from a Parquet snapshot, and the cube
itself with its as-of time.

`read_ledger` reads, in one read-only transaction, the columns the cube needs: the loans and
their events, the credit lines (with their products) and their lifecycle events, the risk
pools' events, the borrowers' zone, field and certifications, the published key lists, the
programmes with their targets, and the commitments. Money is read as Int64 fen and dates as
dates, so no `Decimal` per row is made (a national ledger has millions of events). Nothing is
kept: every figure is derived from the ledger's history each time (or from a snapshot of it,
which `write_snapshot` writes as one Parquet file per table beside a ``snapshot.json`` that
holds its as-of time).

`Cube` holds one reading and answers slices: month-end balances and the month's flows at any
grouping and filter, the limits of open credit lines, and the risk pools' positions, each frame
carrying the reading's ``as_of`` time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from sqlalchemy import Connection, Engine

from innofin.kernel.errors import InvalidInput, NotFound
from innofin.monitoring.cube import engine as ce

if TYPE_CHECKING:
    from innofin.monitoring.cube.store import CubeStore

#: the snapshot's format; a reader refuses another
SNAPSHOT_VERSION: Final = 1
MANIFEST: Final = "snapshot.json"

#: table → (columns and their types) of a reading
SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "loans": {
        "loan_id": pl.Int64,
        "credit_line_id": pl.Int64,
        "institution_id": pl.Int64,
        "enterprise_id": pl.Int64,
        "drawn_on": pl.Date,
        "principal": pl.Int64,
    },
    "loan_events": {
        "event_id": pl.Int64,
        "loan_id": pl.Int64,
        "kind": pl.String,
        "on": pl.Date,
        "principal": pl.Int64,
        "category": pl.String,
    },
    "lines": {
        "credit_line_id": pl.Int64,
        "institution_id": pl.Int64,
        "enterprise_id": pl.Int64,
        "programme_id": pl.Int64,
        "risk_pool_id": pl.Int64,
        "commitment_id": pl.Int64,
        "product_id": pl.Int64,
        "tags": pl.String,
        "limit_amount": pl.Int64,
        "opens_on": pl.Date,
        "matures_on": pl.Date,
        "financing_mode": pl.String,
        "collateral": pl.String,
        "product_kind_code": pl.String,
    },
    "line_events": {"credit_line_id": pl.Int64, "kind": pl.String, "on": pl.Date},
    "pool_events": {"pool_id": pl.Int64, "kind": pl.String, "on": pl.Date, "amount": pl.Int64},
    "pools": {"pool_id": pl.Int64, "code": pl.String, "programme_id": pl.Int64},
    "enterprises": {"enterprise_id": pl.Int64, "zone_id": pl.Int64, "tech_field": pl.String},
    "certifications": {
        "enterprise_id": pl.Int64,
        "kind": pl.String,
        "valid_from": pl.Date,
        "valid_until": pl.Date,
    },
    "key_members": {"name": pl.String, "year": pl.Int32, "enterprise_id": pl.Int64},
    "programmes": {
        "programme_id": pl.Int64,
        "code": pl.String,
        "name": pl.String,
        "starts_on": pl.Date,
        "ends_on": pl.Date,
        "candidate_list": pl.String,
    },
    "targets": {
        "target_id": pl.Int64,
        "programme_id": pl.Int64,
        "kind": pl.String,
        "tech_field": pl.String,
        "amount": pl.Int64,
        "count": pl.Int64,
        "rate": pl.Float64,
        "period_start": pl.Date,
        "due_on": pl.Date,
    },
    "commitments": {
        "commitment_id": pl.Int64,
        "agreement_id": pl.Int64,
        "programme_id": pl.Int64,
        "institution_id": pl.Int64,
        "tech_field": pl.String,
        "period_start": pl.Date,
        "period_end": pl.Date,
        "amount": pl.Int64,
    },
    "institutions": {
        "institution_id": pl.Int64,
        "code": pl.String,
        "name": pl.String,
        "parent_id": pl.Int64,
    },
    "zones": {"zone_id": pl.Int64, "code": pl.String, "name": pl.String, "province": pl.String},
}


def _queries(dialect: str) -> dict[str, str]:
    """The SQL of each table of a reading. Money as fen: SQLite stores it so, PostgreSQL's
    NUMERIC is scaled; JSON: the classified event's class."""
    pg = dialect == "postgresql"

    def fen(column: str) -> str:
        return f"CAST(ROUND({column} * 100) AS BIGINT)" if pg else column

    category = "data->>'category'" if pg else "json_extract(data, '$.category')"
    tags = "CAST(l.tags AS TEXT)" if pg else "l.tags"
    return {
        "loans": "SELECT id, credit_line_id, institution_id, enterprise_id, drawn_on, "
        f"{fen('principal')} FROM loan",
        "loan_events": f"SELECT id, entity_id, kind, effective_on, {fen('principal')}, "
        f"CASE WHEN kind = 'classified' THEN {category} END FROM ledger_event "
        "WHERE entity = 'loan'",
        "lines": _lines_sql(dialect, tags, fen("l.limit_amount")),
        "line_events": "SELECT entity_id, kind, effective_on FROM ledger_event "
        "WHERE entity = 'credit_line'",
        "pool_events": f"SELECT entity_id, kind, effective_on, {fen('amount')} FROM ledger_event "
        "WHERE entity = 'risk_pool'",
        "pools": "SELECT id, code, programme_id FROM risk_pool",
        "enterprises": "SELECT id, zone_id, tech_field FROM enterprise",
        "certifications": "SELECT enterprise_id, kind, valid_from, valid_until FROM certification",
        # the latest version of each published list (name, year): its members
        "key_members": "SELECT k.name, k.year, e.enterprise_id FROM key_list k "
        "JOIN key_list_entry e ON e.list_id = k.id WHERE e.member AND k.version = "
        "(SELECT MAX(k2.version) FROM key_list k2 WHERE k2.name = k.name AND k2.year = k.year)",
        "programmes": "SELECT id, code, name, starts_on, ends_on, candidate_list FROM programme",
        "targets": f"SELECT id, programme_id, kind, tech_field, {fen('amount')}, count, "
        f"{'rate' if pg else 'rate / 10000.0'}, period_start, due_on FROM programme_target",
        "commitments": f"SELECT c.id, c.agreement_id, a.programme_id, a.institution_id, "
        f"c.tech_field, c.period_start, c.period_end, {fen('c.amount')} "
        "FROM agreement_commitment c JOIN agreement a ON a.id = c.agreement_id",
        "institutions": "SELECT id, code, name, parent_id FROM institution",
        "zones": "SELECT id, code, name_zh, province FROM zone",
    }


def _lines_sql(dialect: str, tags: str, limit: str) -> str:
    """The credit lines with their products; a line's programme by the ledger's own rule
    (`ledger.queries.line_programme`: entered for it, else its commitment's, else its pool's),
    compiled for the dialect."""
    from sqlalchemy import literal_column, select
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    from innofin.ledger.models import CreditLine
    from innofin.ledger.queries import line_programme
    from innofin.registry.models import Product

    line, product = CreditLine.__table__.alias("l"), Product.__table__.alias("p")
    stmt = select(
        line.c.id, line.c.institution_id, line.c.enterprise_id,
        line_programme(line).label("programme_id"),
        line.c.risk_pool_id, line.c.commitment_id, line.c.product_id, literal_column(tags),
        literal_column(limit), line.c.opens_on, line.c.matures_on, product.c.financing_mode,
        product.c.collateral, product.c.kind,
    ).select_from(line.outerjoin(product, product.c.id == line.c.product_id))  # fmt: skip
    compiler = PGDialect() if dialect == "postgresql" else SQLiteDialect()  # type: ignore[no-untyped-call]
    return str(stmt.compile(dialect=compiler, compile_kwargs={"literal_binds": True}))


def _frame(rows: Sequence[Any], schema: Mapping[str, Any]) -> pl.DataFrame:
    """Rows as a frame of `schema`; dates stored as text (SQLite) are parsed."""
    if not rows:
        return pl.DataFrame(schema=schema)
    raw = pl.DataFrame(
        [
            pl.Series(name, col, strict=False)
            for name, col in zip(schema, zip(*rows, strict=True), strict=True)
        ]
    )
    casts = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if dtype == pl.Date and raw.schema[name] == pl.String:
            casts.append(col.str.to_date("%Y-%m-%d").alias(name))
        else:
            casts.append(col.cast(dtype).alias(name))
    return raw.select(casts)


@dataclass(frozen=True)
class LedgerFrames:
    """One reading of the ledger's columns: `tables` by the names of `SCHEMAS`, and `as_of`,
    the moment they were read (UTC)."""

    as_of: dt.datetime
    tables: dict[str, pl.DataFrame] = field(repr=False)

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def read_ledger(engine: Engine) -> LedgerFrames:
    """Read the cube's inputs from the database in one transaction (a consistent reading)."""
    queries = _queries(engine.dialect.name)
    tables: dict[str, pl.DataFrame] = {}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        as_of = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for name, sql in queries.items():
            tables[name] = _read(conn, sql, SCHEMAS[name])
    return LedgerFrames(as_of, tables)


def _read(conn: Connection, sql: str, schema: Mapping[str, Any]) -> pl.DataFrame:
    result = conn.exec_driver_sql(sql)
    parts = []
    while rows := result.fetchmany(500_000):
        parts.append(_frame(rows, schema))
    return pl.concat(parts) if parts else _frame([], schema)


def write_snapshot(frames: LedgerFrames, folder: Path) -> Path:
    """Write a reading as a Parquet snapshot: one file per table and ``snapshot.json`` (format,
    as-of time, row counts). Returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in frames.tables.items():
        table.write_parquet(folder / f"{name}.parquet", compression="zstd")
    manifest = {
        "format": "innofin-ledger-snapshot",
        "version": SNAPSHOT_VERSION,
        "as_of": frames.as_of.isoformat(),
        "rows": {name: table.height for name, table in frames.tables.items()},
    }
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def _snapshot_table(folder: Path, name: str) -> pl.DataFrame:
    schema = SCHEMAS[name]
    file = folder / f"{name}.parquet"
    table = pl.read_parquet(file) if file.is_file() else pl.DataFrame(schema=schema)
    return table.select(pl.col(n).cast(t) for n, t in schema.items())


class _LazyTables(dict[str, pl.DataFrame]):
    """A snapshot's tables, each read from its file when first asked for (a report whose
    figures are kept beside the snapshot reads only the small tables); iterating reads all."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> pl.DataFrame:
        if name not in SCHEMAS:
            raise KeyError(name)
        table = self[name] = _snapshot_table(self.folder, name)
        return table

    def _all(self) -> None:
        for name in SCHEMAS:
            if not dict.__contains__(self, name):
                self[name]

    def __iter__(self) -> Iterator[str]:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def __contains__(self, name: object) -> bool:
        return name in SCHEMAS or dict.__contains__(self, name)

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self._all()
        return super().keys()

    def values(self) -> ValuesView[pl.DataFrame]:  # type: ignore[override]
        self._all()
        return super().values()

    def items(self) -> ItemsView[str, pl.DataFrame]:  # type: ignore[override]
        self._all()
        return super().items()


def read_snapshot(folder: Path, *, lazy: bool = False) -> LedgerFrames:
    """A snapshot written by `write_snapshot` (its as-of time is the reading's, not today's);
    `lazy`: each table read when first used."""
    path = folder / MANIFEST
    if not path.is_file():
        raise NotFound(f"no ledger snapshot in {folder} (no {MANIFEST})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("version") != SNAPSHOT_VERSION:
        raise InvalidInput(
            f"snapshot {folder} has format version {manifest.get('version')}, "
            f"this innofin reads {SNAPSHOT_VERSION}"
        )
    as_of = dt.datetime.fromisoformat(manifest["as_of"])
    if lazy:
        return LedgerFrames(as_of, _LazyTables(folder))
    return LedgerFrames(as_of, {name: _snapshot_table(folder, name) for name in SCHEMAS})


# --- the cube ------------------------------------------------------------------------------------

#: attribute → the frame and column its names come from (for tables and reports)
FILTERABLE: Final = ce.ATTRIBUTES
#: attributes of a loan's credit line by which a slice may be derived from a part of the ledger
PART_BY: Final = ("programme_id", "risk_pool_id", "commitment_id")


class Cube:
    """The balance cube of one reading. Frames it returns carry ``month`` (the month-end date)
    and ``as_of``; amounts are Int64 fen.

    What it derives is kept for the cube's life (a report asks some slices twice) and, with a
    `store` (a snapshot's `cube_store.CubeStore`), for the next reading of the same snapshot."""

    def __init__(
        self,
        frames: LedgerFrames,
        *,
        through: dt.date | None = None,
        store: CubeStore | None = None,
    ) -> None:
        self.frames = frames
        self.as_of = frames.as_of
        self.store = store
        self._memo: dict[str, Any] = {}
        self._parts: dict[str, tuple[pl.DataFrame, ce.LoanFlows, pl.Series]] = {}
        span = store.value("span") if store is not None else None
        if span is None:
            events = frames["loan_events"]
            first = events["on"].min()
            last = events["on"].max()
            if not isinstance(first, dt.date) or not isinstance(last, dt.date):
                first = last = frames.as_of.date()
            span = [_month(first), _month(last)]
            if store is not None:
                store.put_value("span", span)
        self.months = ce.Months(span[0], _month(through) if through is not None else span[1])

    def _key(self, name: str, args: Sequence[Any]) -> str:
        from innofin.monitoring.cube.store import key_of

        return key_of(name, self.months.first, self.months.last, *args)

    def memo_frame(
        self, name: str, args: Sequence[Any], compute: Callable[[], pl.DataFrame]
    ) -> pl.DataFrame:
        """The frame `compute` derives (a pure function of this reading and `args`), derived
        once: kept for the cube's life and in its store."""
        key = self._key(name, args)
        found = self._memo.get(key)
        if found is None and self.store is not None:
            found = self.store.frame(key)
        if found is None:
            found = compute()
            if self.store is not None:
                self.store.put_frame(key, found)
        self._memo[key] = found
        return found

    def memo_number(self, name: str, args: Sequence[Any], compute: Callable[[], int]) -> int:
        """As `memo_frame`, for a whole number (a sum in fen, a count)."""
        key = self._key(name, args)
        found = self._memo.get(key)
        if found is None and self.store is not None:
            found = self.store.value(key)
        if found is None:
            found = int(compute())
            if self.store is not None:
                self.store.put_value(key, found)
        self._memo[key] = found
        return int(found)

    @property
    def first_month(self) -> dt.date:
        return _month_end(self.months.first)

    @property
    def last_month(self) -> dt.date:
        """The month end of the cube's last month (the ledger's latest event's month)."""
        return _month_end(self.months.last)

    @cached_property
    def lines(self) -> pl.DataFrame:
        return self._line_attributes(self.frames["lines"])

    def _line_attributes(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Credit lines with their financing mode, product kind, zone and field (each line's
        its own)."""
        firms = self.frames["enterprises"].select("enterprise_id", "zone_id", "tech_field")
        return ce.left_join(ce.product_kinds(lines), firms, "enterprise_id")

    def _lines_of(self, where: Mapping[str, Any] | None) -> pl.DataFrame:
        """The credit lines `where` selects; when it names programmes, risk pools or
        commitments (columns of the stored lines) and the attributes of every line have not
        been derived, those of the lines it names only."""
        chosen = {k: v for k, v in (where or {}).items() if k in PART_BY}
        if not chosen or "lines" in self.__dict__:
            return _filtered(self.lines, where)
        key = self._key("lines", (chosen,))
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._line_attributes(_filtered(self.frames["lines"], chosen))
        return _filtered(found, where)

    @cached_property
    def attributes(self) -> pl.DataFrame:
        """Every loan's attributes (`cube_engine.ATTRIBUTES`) and its drawdown day."""
        f = self.frames
        return self.memo_frame(
            "attributes",
            (),
            lambda: ce.loan_attributes(
                f["loans"], self.lines, f["enterprises"], f["certifications"], f["key_members"]
            ),
        )

    @cached_property
    def flows(self) -> ce.LoanFlows:
        """The loan events' flows and the moves between classes (`cube_engine.loan_flow_parts`)."""
        if self.store is None:
            return ce.loan_flow_parts(self.frames["loan_events"])
        (rows,) = self.store.frames(
            "flows", lambda: (ce.loan_flow_parts(self.frames["loan_events"]).frame(),), 1
        )
        return ce.LoanFlows.from_frame(rows)

    def _stamp(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(month=ce.month_end_of(pl.col("month")), as_of=pl.lit(self.as_of))

    def loans(
        self, where: Mapping[str, Any] | None = None, *, ids: Sequence[int] | None = None
    ) -> pl.DataFrame:
        """The loans' attributes, filtered: each `where` entry is an attribute and a value or
        a list of values (None matches a missing value); `ids`, when given, the loans to keep
        (a caller's row scope)."""
        out = _filtered(self._part(where)[0], where)
        if ids is not None:
            out = out.filter(
                pl.col("loan_id").is_in(pl.Series(list(ids), dtype=pl.Int64).implode())
            )
        return out

    def balances(
        self,
        by: Sequence[str] = ce.DIMENSIONS,
        where: Mapping[str, Any] | None = None,
        *,
        dense: bool | None = None,
        ids: Sequence[int] | None = None,
    ) -> pl.DataFrame:
        """Month-end balances (outstanding, by class, NPL) and the month's flows (new lending,
        repayments, write-offs, recoveries, drawdowns) by `by`, over the loans `where` (and
        `ids`, when given) selects."""
        unknown = [a for a in (*by, *(where or {})) if a not in ce.ATTRIBUTES]
        if unknown:
            raise InvalidInput(
                f"unknown dimension {unknown[0]!r}: use {', '.join(ce.ATTRIBUTES)}", field="by"
            )
        return self.memo_frame(
            "balances",
            (list(by), dict(where or {}), dense, None if ids is None else _digest(ids)),
            lambda: self._stamp(
                ce.cube(
                    self._part(where)[1],
                    self.loans(where, ids=ids),
                    self.months,
                    list(by),
                    dense=dense,
                )
            ),
        )

    def _part(self, where: Mapping[str, Any] | None) -> tuple[pl.DataFrame, ce.LoanFlows]:
        """The attributes and flows a slice `where` selects from: when it names programmes,
        risk pools or commitments (attributes of credit lines) and every loan's attributes
        have not been derived, those of the loans on the lines it names only — a loan's
        attributes and flows are its own, so the slice's figures are the same, derived from a
        part of the ledger; else every loan's."""
        chosen = {k: v for k, v in (where or {}).items() if k in PART_BY}
        values = [v for value in chosen.values() for v in _values(value)]
        if not chosen or None in values or "attributes" in self.__dict__:
            return self.attributes, self.flows
        key = self._key("part", (chosen,))
        part = self._parts.get(key)
        if part is None:
            f = self.frames
            lines = self._lines_of(chosen)
            ids = lines["credit_line_id"]
            for attributes, flows, among in self._parts.values():
                # the lines of a part already derived (a programme's) hold these (its pools'
                # or commitments'): their loans' attributes are in it; the cube counts the
                # flows of the loans it is given only
                if ids.is_in(among.implode()).all():
                    attributes = attributes.filter(pl.col("credit_line_id").is_in(ids.implode()))
                    part = self._parts[key] = (attributes, flows, ids)
                    return attributes, flows
            loans = f["loans"].filter(pl.col("credit_line_id").is_in(ids.implode()))
            attributes = ce.loan_attributes(
                loans, lines, f["enterprises"], f["certifications"], f["key_members"]
            )
            events = f["loan_events"].filter(pl.col("loan_id").is_in(loans["loan_id"].implode()))
            part = self._parts[key] = (attributes, ce.loan_flow_parts(events), ids)
        return part[0], part[1]

    def line_limits(
        self, by: Sequence[str] = (), where: Mapping[str, Any] | None = None
    ) -> pl.DataFrame:
        """Limits and number of the credit lines open at each month end, by `by` (of
        `cube_engine.LINE_DIMENSIONS`)."""
        unknown = [a for a in (*by, *(where or {})) if a not in ce.LINE_DIMENSIONS]
        if unknown:
            raise InvalidInput(
                f"credit lines have no dimension {unknown[0]!r}: use "
                f"{', '.join(ce.LINE_DIMENSIONS)}",
                field="by",
            )

        def compute() -> pl.DataFrame:
            lines = self._lines_of(where)
            events = self.frames["line_events"]
            if where:  # the events of these lines only (the engine reads no others)
                events = events.filter(
                    pl.col("credit_line_id").is_in(lines["credit_line_id"].implode())
                )
            out = ce.line_limits(lines, events, self.months, list(by))
            return self._stamp(out)

        return self.memo_frame("line_limits", (list(by), dict(where or {})), compute)

    def pools(self, ids: Sequence[int] | None = None) -> pl.DataFrame:
        """Each risk pool by month (or the pools `ids`): contributions, claims paid,
        recoveries shared, balance, and its exposure (the month-end outstanding of the loans
        its lines cover)."""
        chosen = None if ids is None else sorted(set(ids))
        return self.memo_frame("pools", (chosen,), lambda: self._pools(chosen))

    def _pools(self, ids: list[int] | None) -> pl.DataFrame:
        flows = ce.pool_flows(self.frames["pool_events"], self.months)
        where = {} if ids is None else {"risk_pool_id": ids}
        attributes, loan_flows = self._part(where)
        exposure = ce.cube(
            loan_flows,
            _filtered(attributes, where).filter(pl.col("risk_pool_id").is_not_null()),
            self.months,
            ["risk_pool_id"],
            dense=True,
        ).select("month", pool_id="risk_pool_id", exposure="outstanding")
        if "pool_id" not in flows.columns:
            return self._stamp(exposure)
        if ids is not None:
            flows = flows.filter(pl.col("pool_id").is_in(ids))
        out = flows.join(exposure, on=["pool_id", "month"], how="full", coalesce=True)
        return self._stamp(out.fill_null(0).sort("pool_id", "month"))


def _digest(ids: Sequence[int]) -> str:
    import hashlib

    import numpy as np

    values = np.unique(np.asarray(ids, dtype=np.int64))
    return hashlib.blake2b(values.tobytes(), digest_size=16).hexdigest()


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _filtered(frame: pl.DataFrame, where: Mapping[str, Any] | None) -> pl.DataFrame:
    if not where:
        return frame
    conditions = []
    for name, value in where.items():
        values = _values(value)
        col = pl.col(name)
        known = [v for v in values if v is not None]
        cond = col.is_in(known) if known else pl.lit(False)
        if None in values:
            cond = cond | col.is_null()
        conditions.append(cond)
    return frame.filter(*conditions)


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_end(key: int) -> dt.date:
    from innofin.kernel.periods import month_end

    return month_end(dt.date(key // 12, key % 12 + 1, 1))


def load(engine: Engine | None = None, snapshot: Path | None = None, *, keep: bool = True) -> Cube:
    """The cube from a Parquet snapshot (when given) or else the database. A snapshot's tables
    are read as they are needed and, with `keep`, what is derived from them is kept beside it
    (`cube_store`) for the next reading."""
    if snapshot is not None:
        if not keep:
            return Cube(read_snapshot(snapshot))
        from innofin.monitoring.cube.store import CubeStore

        return Cube(read_snapshot(snapshot, lazy=True), store=CubeStore.for_snapshot(snapshot))
    if engine is None:
        raise InvalidInput("the cube needs a database or a snapshot")
    return Cube(read_ledger(engine))

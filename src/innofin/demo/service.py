"""Demo data use cases: generate the tables (pure), then write them in one transaction.

The generator is a list of `Step`s — name, generate function (pure, see `demo.engine`), write
function. Later capabilities extend the demo by appending their own step to `STEPS` (needs,
agreements, loans, events...): it sees every table made before it and writes its own tables with
`write_tables(...)` or a writer of its own.

The whole run is one transaction: a failure leaves the database as it was, never half a demo.
A database holds at most one demo run (its `data_source` row, kind 'demo', names seed and scale).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import polars as pl
from sqlalchemy import Connection, Engine, func, insert, select, text

from innofin.access import models as _access_models  # noqa: F401  (consent, referral tables)
from innofin.audit.recorder import SYSTEM, Actor, record
from innofin.db.base import Base
from innofin.demo import (
    enterprise_engine,
    finance_engine,
    needs_engine,
    party_engine,
    report_engine,
    zone_engine,
)
from innofin.demo.engine import DemoData, GenerateFn, Scale, generate, get_scale, json_text
from innofin.demo.ids import WriteContext, id_offsets, write_frame
from innofin.demo.ledger import step
from innofin.kernel.errors import Conflict
from innofin.kernel.progress import ProgressCallback
from innofin.ledger.models import (
    CreditLine,
    LedgerEvent,
    Loan,
    PoolClaim,
    Programme,
    ProgrammeTarget,
    RiskPool,
)
from innofin.matching import models as _matching_models  # noqa: F401  (financing needs)
from innofin.registry.models import DataSource
from innofin.registry.schemas import Eligibility

#: Writes a step's tables; returns rows written per table.
WriteFn = Callable[[WriteContext, DemoData], Mapping[str, int]]


@dataclass(frozen=True)
class Step:
    """One stage of the demo: make some tables from the earlier ones, then write them."""

    name: str
    generate: GenerateFn
    write: WriteFn


@dataclass(frozen=True)
class DemoSummary:
    """What a run wrote: rows per table (including its `data_source` row) and the time taken."""

    scale: str
    seed: int
    source_id: int
    counts: dict[str, int]  # rows written per table
    generate_seconds: float
    write_seconds: float


def write_tables(*names: str) -> WriteFn:
    """A writer for the named generated tables, in the order given."""

    def write(ctx: WriteContext, data: DemoData) -> Mapping[str, int]:
        return {n: write_frame(ctx, Base.metadata.tables[n], data.tables[n]) for n in names}

    return write


def _write_products(ctx: WriteContext, data: DemoData) -> Mapping[str, int]:
    """Products, with every eligibility document checked against `Eligibility` first."""
    frame = data.tables["product"]
    checked = [
        json_text(Eligibility.model_validate_json(doc).to_json()) for doc in frame["eligibility"]
    ]
    frame = frame.with_columns(pl.Series("eligibility", checked, dtype=pl.String))
    return {"product": write_frame(ctx, Base.metadata.tables["product"], frame)}


STEPS: list[Step] = [
    Step("zones", zone_engine.make_zones, write_tables("zone")),
    Step("institutions", finance_engine.make_institutions, write_tables("institution")),
    Step("products", finance_engine.make_products, _write_products),
    Step("enterprises", enterprise_engine.make_enterprises, write_tables("enterprise")),
    Step("reports", report_engine.make_reports, write_tables("indicator_report", "certification")),
    Step("zone_stats", zone_engine.make_zone_stats, write_tables("zone_year_stat")),
    Step("organisations", party_engine.make_organisations, write_tables("organisation")),
    Step("users", party_engine.make_users, write_tables("app_user", "user_role")),
    Step("grants", party_engine.make_grants, write_tables("consent", "referral")),
    Step("ledger", step.make_ledger, step.write_ledger),
    Step("needs", needs_engine.make_needs, write_tables("financing_need")),
]


def source_name(scale: Scale, seed: int) -> str:
    return f"innofin demo generator seed={seed} scale={scale.name}"


def generate_data(
    scale: str | Scale = "small",
    seed: int = 0,
    steps: Sequence[Step] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoData:
    """Generate every table of the demo in memory (no database); deterministic by seed."""
    chosen = STEPS if steps is None else steps
    return generate(get_scale(scale), seed, [(s.name, s.generate) for s in chosen], on_step)


def write_data(
    engine: Engine,
    data: DemoData,
    steps: Sequence[Step] | None = None,
    progress: ProgressCallback | None = None,
    actor: Actor = SYSTEM,
) -> DemoSummary:
    """Write generated tables and their `data_source` row in one transaction (one audit row).

    Raises `Conflict` when the database already holds a demo run.
    """
    chosen = STEPS if steps is None else steps
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        existing = conn.execute(
            select(DataSource.id, DataSource.name).where(DataSource.kind == "demo")
        ).first()
        if existing is not None:
            raise Conflict(
                f"the database already holds demo data (data source #{existing.id}: "
                f"{existing.name}); generate into a fresh database"
            )
        source_id = conn.execute(
            insert(DataSource)
            .values(kind="demo", name=source_name(data.scale, data.seed))
            .returning(DataSource.id)
        ).scalar_one()
        counts["data_source"] = 1
        with _large_sqlite_cache(conn):
            written = {n: Base.metadata.tables[n] for n in data.tables}
            ctx = WriteContext(conn, source_id, id_offsets(conn, written), progress)
            for step in chosen:
                counts.update(step.write(ctx, data))
            if conn.dialect.name == "postgresql":
                _advance_sequences(conn, [n for n, t in written.items() if "id" in t.c])
            # fresh planner statistics, so the first queries on the new data use the indexes —
            # of the tables written only: a bare ANALYZE on PostgreSQL walks every table of the
            # database (other schemas too, which may be dropped meanwhile)
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{n}"' for n in sorted(written)))
            else:
                conn.exec_driver_sql("ANALYZE")
        record(
            conn,
            actor,
            action="demo",
            entity="data_source",
            entity_id=source_id,
            after={"scale": data.scale.name, "seed": data.seed, "rows": counts},
        )
    return DemoSummary(
        scale=data.scale.name,
        seed=data.seed,
        source_id=source_id,
        counts=counts,
        generate_seconds=data.seconds,
        write_seconds=time.perf_counter() - started,
    )


def generate_demo(
    engine: Engine,
    scale: str | Scale = "small",
    seed: int = 0,
    steps: Sequence[Step] | None = None,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Generate the demo and write it into `engine`'s database (already migrated)."""
    return write_data(engine, generate_data(scale, seed, steps), steps, progress)


#: SQLite page cache for the demo's write, in KiB (the default 2 MiB thrashes once indexes on
#: keys inserted out of order — a loan's enterprise, an event's entity — outgrow it)
SQLITE_WRITE_CACHE_KIB = 512 * 1024


@contextmanager
def _large_sqlite_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a larger page cache for this connection while the block runs."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={before}")


def _advance_sequences(conn: Connection, tables: Sequence[str]) -> None:
    """Explicit ids do not move PostgreSQL's sequences: set them past the new rows."""
    for name in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT max(id) FROM {name}))"
            )
        )


# --------------------------------------------------------------------------- the ledger's summary

NON_PERFORMING = ("substandard", "doubtful", "loss")


@dataclass(frozen=True)
class ProgrammeLine:
    code: str
    name: str
    lines: int
    outstanding: Decimal
    balance_target: Decimal | None  # its financing-balance target, if it has one


@dataclass(frozen=True)
class PoolLine:
    code: str
    name: str
    contributed: Decimal
    paid_out: Decimal
    balance: Decimal
    covered_outstanding: Decimal
    claims_paid: int


@dataclass(frozen=True)
class LedgerSummary:
    """What the programme ledger holds at its last event: loans, balances, programmes, pools."""

    as_of: dt.date | None
    loans: int
    active: int
    outstanding: Decimal
    non_performing: Decimal
    written_off: Decimal
    recovered: Decimal
    programmes: list[ProgrammeLine]
    pools: list[PoolLine]

    @property
    def npl_ratio(self) -> Decimal | None:
        """Non-performing (substandard, doubtful, loss) share of the outstanding principal."""
        return self.non_performing / self.outstanding if self.outstanding else None


def _money(value: object) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def ledger_summary(engine: Engine) -> LedgerSummary:
    """The ledger in a few figures (grouped SQL; quick at national scale)."""
    npl = Loan.category.in_(NON_PERFORMING)
    with engine.connect() as conn:
        as_of = conn.execute(
            select(func.max(LedgerEvent.effective_on)).where(LedgerEvent.entity == "loan")
        ).scalar_one()
        totals = conn.execute(
            select(
                func.count(Loan.id),
                func.count(Loan.id).filter(Loan.status == "active"),
                func.sum(Loan.outstanding_principal),
                func.sum(Loan.outstanding_principal).filter(npl),
                func.sum(Loan.written_off),
                func.sum(Loan.recovered),
            )
        ).one()
        by_programme = dict(
            (pid, (n, total))
            for pid, n, total in conn.execute(
                select(
                    CreditLine.programme_id,
                    func.count(func.distinct(CreditLine.id)),
                    func.sum(Loan.outstanding_principal),
                )
                .join(Loan, Loan.credit_line_id == CreditLine.id, isouter=True)
                .where(CreditLine.programme_id.is_not(None))
                .group_by(CreditLine.programme_id)
            )
        )
        targets = dict(
            conn.execute(
                select(ProgrammeTarget.programme_id, func.sum(ProgrammeTarget.amount))
                .where(ProgrammeTarget.kind == "financing_balance")
                .group_by(ProgrammeTarget.programme_id)
            ).all()
        )
        programmes = [
            ProgrammeLine(
                code,
                name,
                int(by_programme.get(pid, (0, None))[0]),
                _money(by_programme.get(pid, (0, None))[1]),
                None if targets.get(pid) is None else _money(targets[pid]),
            )
            for pid, code, name in conn.execute(
                select(Programme.id, Programme.code, Programme.name).order_by(Programme.id)
            )
        ]
        paid = dict(
            conn.execute(
                select(PoolClaim.pool_id, func.count(PoolClaim.id))
                .where(PoolClaim.status == "paid")
                .group_by(PoolClaim.pool_id)
            ).all()
        )
        pools = [
            PoolLine(
                p.code,
                p.name,
                _money(p.contributed),
                _money(p.paid_out),
                _money(p.balance),
                _money(p.covered_outstanding),
                int(paid.get(p.id, 0)),
            )
            for p in conn.execute(select(RiskPool).order_by(RiskPool.id))
        ]
    loans, active, outstanding, non_performing, written_off, recovered = totals
    return LedgerSummary(
        as_of=as_of,
        loans=int(loans),
        active=int(active),
        outstanding=_money(outstanding),
        non_performing=_money(non_performing),
        written_off=_money(written_off),
        recovered=_money(recovered),
        programmes=programmes,
        pools=pools,
    )

"""The portfolio read back: exports of the loans and credit lines (`export_file`), and the
totals of the loans by institution, region, industry or year of drawdown (`summary`) — what an
officer checks a load against the bank's own control totals with (the full cube is
monitoring's). One grouped query over the loans' cached balances, which `ledger check` proves
equal to the replay of their events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, case, extract, func, select
from sqlalchemy.orm import Session

from innofin.ingest.writers import write_table
from innofin.kernel.errors import InvalidInput
from innofin.kernel.progress import ProgressCallback
from innofin.ledger.models import CreditLine, Loan
from innofin.ledger.replay import fen_sum
from innofin.registry.models import Enterprise, Institution

GROUPS = ("institution", "region", "industry", "year")


@dataclass(frozen=True)
class Totals:
    """One line of the summary (``group`` is None for the whole portfolio)."""

    group: str | None
    loans: int
    drawn: Decimal
    repaid: Decimal
    written_off: Decimal
    recovered: Decimal
    outstanding: Decimal
    defaulted: int

    @property
    def default_rate(self) -> Decimal:
        """Defaulted loans over loans, as a fraction to 4 places (0 for no loans)."""
        if not self.loans:
            return Decimal("0.0000")
        return (Decimal(self.defaulted) / Decimal(self.loans)).quantize(Decimal("0.0001"))


def summary(session: Session, by: str | None = None) -> list[Totals]:
    """The portfolio's totals, as a whole or by `by` (institution code, the borrower's region
    code or industry code, or the year of drawdown), ordered by group."""
    if by is not None and by not in GROUPS:
        raise InvalidInput(f"by must be one of {', '.join(GROUPS)}", field="by")
    key: Any = {
        None: None,
        "institution": Institution.code,
        "region": Enterprise.region_code,
        "industry": Enterprise.industry_code,
        "year": extract("year", Loan.drawn_on),
    }[by]
    columns: list[Any] = [
        func.count(Loan.id),
        func.sum(Loan.principal),
        func.sum(Loan.principal_repaid),
        func.sum(Loan.written_off),
        func.sum(Loan.recovered),
        func.sum(Loan.outstanding_principal),
        func.sum(case((Loan.defaulted_on.is_not(None), 1), else_=0)),
    ]
    stmt: Any = select(*columns).select_from(Loan)
    if key is not None:
        stmt = select(key, *columns).select_from(Loan).group_by(key).order_by(key)
    if by == "institution":
        stmt = stmt.join(Institution, Institution.id == Loan.institution_id)
    elif by in ("region", "industry"):
        stmt = stmt.join(Enterprise, Enterprise.id == Loan.enterprise_id)
    out = []
    for row in session.execute(stmt):
        values = list(row) if key is not None else [None, *row]
        group, loans, drawn, repaid, written, recovered, outstanding, defaulted = values
        d, r, w, c, o = (
            fen_sum(session, v) for v in (drawn, repaid, written, recovered, outstanding)
        )
        group_name = None if group is None else str(group)
        out.append(Totals(group_name, int(loans or 0), d, r, w, c, o, int(defaulted or 0)))
    return [t for t in out if t.loans or key is None]


# --------------------------------------------------------------------------- exports

EXPORTS = ("loans", "credit-lines")


def _fields(model: Any, names: str) -> list[tuple[str, Any]]:
    """Columns of `model` exported under their own names."""
    return [(name, getattr(model, name)) for name in names.split()]


def _export_columns(kind: str) -> list[tuple[str, Any]]:
    """An export's columns in order: the header, and the column it reads. Both exports start
    with the institution's code, the bank's own numbers and the borrower's identifier."""
    line = CreditLine
    borrower = [("id_scheme", Enterprise.id_scheme), ("enterprise", Enterprise.identifier),
                ("enterprise_name", Enterprise.name)]  # fmt: skip
    if kind == "loans":
        refs = [("loan_ref", Loan.external_ref), ("line_ref", line.external_ref)]
        own = _fields(
            Loan,
            "currency principal drawn_on matures_on months method day_count annual_rate status "
            "principal_repaid interest_paid written_off recovered outstanding_principal category "
            "defaulted_on",
        )
    else:
        refs = [("line_ref", line.external_ref)]
        own = [
            ("currency", line.currency),
            ("limit", line.limit_amount),
            *_fields(line, "used opens_on matures_on rate_kind rate spread_bp revolving status"),
            ("maker", line.maker_id),
            ("checker", line.checker_id),
        ]
    return [("institution", Institution.code), *refs, *borrower, *own]


def _export_query(kind: str, columns: list[tuple[str, Any]]) -> Any:
    row: Any = Loan if kind == "loans" else CreditLine
    stmt = select(*(column for _, column in columns)).join(
        Institution, Institution.id == row.institution_id
    )
    if kind == "loans":
        stmt = stmt.join(CreditLine, CreditLine.id == Loan.credit_line_id)
    return stmt.join(Enterprise, Enterprise.id == row.enterprise_id).order_by(
        Institution.code, row.external_ref
    )


def export_count(engine: Engine, kind: str) -> int:
    """How many rows an export of `kind` (loans, credit-lines) writes."""
    model = Loan if kind == "loans" else CreditLine
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def export_file(
    engine: Engine, kind: str, path: Path, *, progress: ProgressCallback | None = None
) -> int:
    """Every loan or credit line, with its institution's code, the bank's own numbers and the
    borrower's identifier, to a CSV (UTF-8 with BOM) or XLSX file; the rows written. Rates
    are annual fractions (0.0435), amounts yuan."""
    if kind not in EXPORTS:
        raise InvalidInput(f"kind must be one of {', '.join(EXPORTS)}", field="kind")
    columns = _export_columns(kind)
    header = [name for name, _ in columns]
    with engine.connect() as conn, conn.begin():
        rows = conn.execution_options(yield_per=5_000).execute(_export_query(kind, columns))
        return write_table(Path(path), kind, header, rows, progress)

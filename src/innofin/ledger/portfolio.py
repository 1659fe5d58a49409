"""The portfolio read back: totals of the loans by institution, region, industry or year of
drawdown — what an officer checks a load against the bank's own control totals with (the full
cube is monitoring's). One grouped query over the loans' cached balances, which `ledger check`
proves equal to the replay of their events.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, extract, func, select
from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidInput
from innofin.ledger.models import Loan
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

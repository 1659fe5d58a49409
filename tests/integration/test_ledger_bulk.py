"""Bulk repayments on SQLite and PostgreSQL: the same rules, events and balances as one
`service.repay` per row, in a few statements."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

import ledger_world as lw
from innofin.db import make_engine
from innofin.db.engine import unit_of_work
from innofin.db.migrate import upgrade
from innofin.kernel.errors import InnofinError
from innofin.ledger import bulk, replay, service
from innofin.ledger.models import CreditLine, LedgerEvent, Loan, RiskPool
from innofin.ledger.store import perform

D = dt.date
M = lw.MAKER
COLS = ("principal_repaid", "interest_paid", "outstanding_principal", "status")


def _setup(engine: Engine) -> tuple[lw.World, list[int], int, int]:
    w = lw.build(engine, pool_funds="1000000.00", leverage=20)
    plain = lw.line(w, "L-P", limit="1000000.00", commitment=False)
    revolving = lw.line(w, "L-R", limit="1000000.00", commitment=False, revolving=True)
    covered = lw.line(w, "L-C", limit="1000000.00", commitment=False, pool=True)
    loans = [
        lw.draw(w, plain, "1000.00", "A"),
        lw.draw(w, revolving, "2000.00", "B"),
        lw.draw(w, covered, "3000.00", "C"),
    ]
    return w, loans, revolving, covered


def _rows(loans: list[int]) -> list[bulk.Repayment]:
    a, b, c = loans
    return [
        bulk.Repayment(a, Decimal("400.00"), Decimal("3.10"), D(2024, 3, 1), "k1"),
        bulk.Repayment(b, Decimal("500.00"), Decimal("0.00"), D(2024, 3, 1), "k2"),
        bulk.Repayment(a, Decimal("600.01"), Decimal("0.00"), D(2024, 3, 2)),  # > 600.00 left
        bulk.Repayment(c, Decimal("3000.00"), Decimal("9.99"), D(2024, 3, 1)),  # closes C
        bulk.Repayment(c, Decimal("1.00"), Decimal("0.00"), D(2024, 3, 5)),  # C is closed
        bulk.Repayment(a, Decimal("1.00"), Decimal("0.00"), D(2024, 1, 1)),  # before drawdown
        bulk.Repayment(999, Decimal("1.00"), Decimal("0.00"), D(2024, 3, 1)),
        bulk.Repayment(a, Decimal("600.00"), Decimal("1.00"), D(2024, 3, 3)),  # closes A
    ]


def _state(engine: Engine, loans: list[int]) -> list[tuple[object, ...]]:
    with unit_of_work(engine) as s:
        out = [tuple(getattr(s.get(Loan, i), c) for c in COLS) for i in loans]
        out.append(
            tuple(line.used for line in s.scalars(select(CreditLine).order_by(CreditLine.id)))
        )
        out.append((s.scalars(select(RiskPool)).one().covered_outstanding,))
        out.append((s.scalar(select(func.count()).select_from(LedgerEvent)),))
        assert replay.check(s) == []
        return out


def test_bulk_equals_one_repay_per_row(engine: Engine, tmp_path: Path) -> None:
    _w, loans, _revolving, _covered = _setup(engine)
    with unit_of_work(engine, immediate=True, actor=M) as s:
        result = bulk.repay_many(s, M, _rows(loans))
    assert (result.recorded, result.replayed) == (4, 0)
    assert [(r.index, r.field) for r in result.refused] == [
        (2, "principal"), (4, "loan_id"), (5, "paid_on"), (6, "loan_id"),
    ]  # fmt: skip
    assert "exceeds the outstanding principal 600.00" in result.refused[0].reason
    bulk_state = _state(engine, loans)
    assert bulk_state[0] == (Decimal("1000.00"), Decimal("4.10"), Decimal("0.00"), "closed")
    assert bulk_state[1][2] == Decimal("1500.00")
    assert bulk_state[3] == (Decimal("1000.00"), Decimal("1500.00"), Decimal("3000.00"))
    assert bulk_state[4] == (Decimal("0.00"),)  # covered credit repaid
    # a re-sent batch replays the keyed rows and refuses nothing new for them
    with unit_of_work(engine, immediate=True, actor=M) as s:
        again = bulk.repay_many(s, M, _rows(loans)[:2])
    assert (again.recorded, again.replayed, again.refused) == (0, 2, [])
    # the same rows one by one through service.repay on a second database give the same state
    assert bulk_state == _per_row_state(tmp_path)


def _per_row_state(tmp_path: Path) -> list[tuple[object, ...]]:
    """The same set-up and rows, one `service.repay` each, on a fresh SQLite database."""
    other = make_engine(f"sqlite:///{tmp_path / 'per-row.db'}")
    upgrade(other)
    try:
        _w, loans, _r, _c = _setup(other)
        for r in _rows(loans):
            with contextlib.suppress(InnofinError):  # the refused rows, as in the bulk run
                perform(other, lambda s, r=r: service.repay(
                    s, M, r.loan_id, principal=r.principal, interest=r.interest,
                    paid_on=r.paid_on, key=r.key), M)  # fmt: skip
        return _state(other, loans)
    finally:
        other.dispose()

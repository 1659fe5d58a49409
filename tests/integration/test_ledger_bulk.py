"""Bulk repayments on SQLite and PostgreSQL: the same rules, events and balances as one
`service.repay` per row, in a few statements."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
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


# --------------------------------------------------------------------------- mixed events

MIXED_COLS = (*COLS, "category", "defaulted_on")


def _mixed_rows(loans: list[int], seed: int) -> list[bulk.LoanEvent]:
    """A seeded stream of repayments, classifications (with and without a bank's floor, some
    after instalments fell due unpaid) and defaults, with some rows the rules refuse: a default
    twice, an unknown floor, a loan that does not exist, a repayment after the loan closed."""
    rng = random.Random(seed)
    rows: list[bulk.LoanEvent] = []
    for n in range(120):
        loan = rng.choice(loans)
        draw = rng.random()
        day = D(2024, 2, 1) + dt.timedelta(days=rng.randrange(1, 400))
        if draw < 0.1:
            rows.append(bulk.Default(loan, day, f"d{seed}:{n}"))
        elif draw < 0.4:
            floor = rng.choice([None, None, "special_mention", "doubtful", "bogus"])
            rows.append(bulk.Classification(loan, day, floor))
        elif draw < 0.42:
            rows.append(bulk.Classification(999, day))
        else:
            principal = Decimal(rng.randrange(0, 60_000)).scaleb(-2)
            interest = Decimal(rng.randrange(0, 2_000)).scaleb(-2)
            key = f"r{seed}:{n}" if rng.random() < 0.7 else None
            rows.append(bulk.Repayment(loan, principal, interest, day, key))
    return rows


def _mixed_state(engine: Engine, loans: list[int]) -> list[tuple[object, ...]]:
    with unit_of_work(engine) as s:
        out: list[tuple[object, ...]] = [
            tuple(getattr(s.get(Loan, i), c) for c in MIXED_COLS) for i in loans
        ]
        out.append(
            tuple(line.used for line in s.scalars(select(CreditLine).order_by(CreditLine.id)))
        )
        out.append((s.scalars(select(RiskPool)).one().covered_outstanding,))
        events = s.scalars(select(LedgerEvent).order_by(LedgerEvent.id)).all()
        out.extend(
            (e.entity_id, e.kind, e.effective_on, e.principal, e.interest, e.data,
             e.idempotency_key)
            for e in events
        )  # fmt: skip
        assert replay.check(s) == []
        return out


def _one_by_one(engine: Engine, rows: list[bulk.LoanEvent]) -> int:
    refused = 0
    for r in rows:
        try:
            if isinstance(r, bulk.Repayment):
                perform(engine, lambda s, r=r: service.repay(
                    s, M, r.loan_id, principal=r.principal, interest=r.interest,
                    paid_on=r.paid_on, key=r.key), M)  # fmt: skip
            elif isinstance(r, bulk.Default):
                perform(
                    engine,
                    lambda s, r=r: service.mark_default(s, M, r.loan_id, on=r.on, key=r.key),
                    M,
                )
            else:
                perform(
                    engine,
                    lambda s, r=r: service.classify(s, M, r.loan_id, as_of=r.as_of, floor=r.floor),
                    M,
                )
        except InnofinError:
            refused += 1
    return refused


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mixed_bulk_equals_the_services_one_by_one(
    engine: Engine, tmp_path: Path, seed: int
) -> None:
    _w, loans, _revolving, _covered = _setup(engine)
    rows = _mixed_rows(loans, seed)
    with unit_of_work(engine, immediate=True, actor=M) as s:
        result = bulk.record_many(s, M, rows)
    kinds = {type(rows[r.index]).__name__ for r in result.refused}
    assert "Classification" in kinds  # the unknown floor and the missing loan at least
    bulk_state = _mixed_state(engine, loans)
    classified = [x for x in bulk_state if len(x) == 7 and x[1] == "classified"]
    assert classified, "the stream changes some loan's class"
    other = make_engine(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    upgrade(other)
    try:
        _w2, loans2, _r2, _c2 = _setup(other)
        assert loans2 == loans
        refused = _one_by_one(other, rows)
        assert refused == len(result.refused)
        assert _mixed_state(other, loans) == bulk_state
    finally:
        other.dispose()
    # re-sent, the keyed rows that were recorded replay and change nothing
    refused_at = {f.index for f in result.refused}
    resent = [
        r
        for i, r in enumerate(rows)
        if i not in refused_at and not isinstance(r, bulk.Classification) and r.key is not None
    ]
    with unit_of_work(engine, immediate=True, actor=M) as s:
        again = bulk.record_many(s, M, resent)
    assert (again.recorded, again.replayed, again.refused) == (0, len(resent), [])
    assert _mixed_state(engine, loans) == bulk_state

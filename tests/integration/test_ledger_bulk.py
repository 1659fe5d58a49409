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
from sqlalchemy.orm import Session

import ledger_world as lw
from innofin.db import make_engine
from innofin.db.engine import unit_of_work
from innofin.db.migrate import upgrade
from innofin.kernel.errors import InnofinError, NotFound
from innofin.ledger import bulk, replay
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import (
    CreditLine,
    LedgerEvent,
    LimitEntry,
    Loan,
    LoanInstalment,
    RiskPool,
)

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


# --------------------------------------------------------------------------- lines and loans

LINE_COLS = ("status", "used", "limit_amount", "maker_id", "checker_id", "commitment_id")


def _book_rows(w: lw.World, seed: int) -> list[bulk.Row]:
    """A bank's book, interleaved per loan as its system exports it: a line (by maker and
    checker, or historical), a drawdown on it, repayments, perhaps a default, a write-off and a
    recovery — with the mistakes real files make: a term of 0 months, a disbursement before the
    line's start or after its end, a charge-off above the principal, a write-off before any
    default, a drawdown over the limit, a line that exists already."""
    rng = random.Random(seed)
    rows: list[bulk.Row] = []
    bank = w.bank_id
    for n in range(40):
        ref = f"S{seed}-L{n}"
        opens = D(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 60))
        spec = service.LineSpec(
            institution_id=bank, external_ref=ref, enterprise_id=rng.choice(w.enterprise_ids),
            limit_amount=Decimal(rng.randrange(50, 200) * 1000), opens_on=opens,
            matures_on=opens + dt.timedelta(days=365), rate=Decimal("0.0345"),
            revolving=rng.random() < 0.3,
            commitment_id=w.commitment_id if rng.random() < 0.5 else None,
            risk_pool_id=w.pool_id if rng.random() < 0.4 else None,
        )  # fmt: skip
        if rng.random() < 0.5:
            rows.append(bulk.NewLine(spec, f"p{seed}:{n}", approval_ref=f"APR-{n}"))
        else:
            rows.append(bulk.NewLine(spec, f"p{seed}:{n}", lw.MAKER, lw.CHECKER, f"a{seed}:{n}"))
        if n == 7:
            rows.append(bulk.NewLine(spec, f"dup{seed}:{n}", approval_ref="again"))  # exists
        loan = bulk.LoanRef(bank, f"S{seed}-N{n}")
        drawn = opens + dt.timedelta(days=rng.randrange(0, 30))
        amount = Decimal(rng.randrange(20, 60) * 1000)
        months = rng.choice((12, 24, 0 if n % 13 == 5 else 36))
        if n % 11 == 3:
            drawn = opens + dt.timedelta(days=400)  # after the line's end
        if n % 17 == 4:
            drawn = opens - dt.timedelta(days=1)  # before the line's start
        if n % 19 == 6:
            amount = spec.limit_amount + 1  # over the limit
        rows.append(
            bulk.Drawdown(bulk.LineRef(bank, ref), amount, drawn, loan.external_ref, months,
                          rng.choice(("equal_principal", "equal_instalment")), key=f"d{seed}:{n}")
        )  # fmt: skip
        day = drawn
        for k in range(rng.randrange(1, 4)):
            day += dt.timedelta(days=30)
            p = Decimal(rng.randrange(0, 8000)).scaleb(-1).quantize(Decimal("0.01"))
            rows.append(bulk.Repayment(loan, p, Decimal("12.34"), day, f"r{seed}:{n}:{k}"))
        if rng.random() < 0.3:
            rows.append(bulk.Classification(loan, day + dt.timedelta(days=200)))
        if n % 5 == 2:
            rows.append(bulk.WriteOff(loan, Decimal("100.00"), day, f"x{seed}:{n}"))  # no default
        if rng.random() < 0.4:
            day += dt.timedelta(days=100)
            rows.append(bulk.Default(loan, day, f"f{seed}:{n}"))
            too_much = n % 3 == 0
            off = amount + 1 if too_much else Decimal(rng.randrange(1, 10) * 1000)
            rows.append(bulk.WriteOff(loan, off, day, f"w{seed}:{n}"))
            rows.append(bulk.Recovery(loan, Decimal("500.00"), day, f"v{seed}:{n}"))
    return rows


def _book_state(engine: Engine) -> list[tuple[object, ...]]:
    with unit_of_work(engine) as s:
        out: list[tuple[object, ...]] = [
            tuple(getattr(line, c) for c in ("external_ref", *LINE_COLS))
            for line in s.scalars(select(CreditLine).order_by(CreditLine.id))
        ]
        out.extend(
            (loan.id, loan.external_ref, loan.credit_line_id, loan.principal, loan.matures_on,
             *(getattr(loan, c) for c in MIXED_COLS), loan.written_off, loan.recovered)
            for loan in s.scalars(select(Loan).order_by(Loan.id))
        )  # fmt: skip
        out.append((s.scalars(select(RiskPool)).one().covered_outstanding,))
        out.extend(
            (e.entity, e.entity_id, e.kind, e.effective_on, e.amount, e.principal, e.interest,
             e.data, e.idempotency_key, e.actor)
            for e in s.scalars(select(LedgerEvent).order_by(LedgerEvent.id))
        )  # fmt: skip
        out.extend(
            (x.account, x.account_id, x.kind, x.amount, x.source, x.source_id)
            for x in s.scalars(select(LimitEntry).order_by(LimitEntry.id))
        )
        out.extend(
            (i.loan_id, i.seq, i.due_on, i.principal, i.interest)
            for i in s.scalars(select(LoanInstalment).order_by(LoanInstalment.id))
        )
        assert replay.check(s) == []
        return out


def _loan_id(s: Session, ref: int | bulk.LoanRef) -> int:
    if isinstance(ref, int):
        return ref
    found = s.scalars(
        select(Loan.id).where(
            Loan.institution_id == ref.institution_id, Loan.external_ref == ref.external_ref
        )
    ).first()
    if found is None:
        raise NotFound(f"loan {ref.external_ref} does not exist")
    return found


def _service_call(s: Session, r: bulk.Row) -> None:
    """One row through the services, as the one-by-one path did it."""
    if isinstance(r, bulk.NewLine):
        if r.maker is None:
            service.load_line(s, M, r.spec, approval_ref=r.approval_ref, key=r.key)
        else:
            assert r.checker is not None
            ev = service.propose_line(s, r.maker, r.spec, key=r.key)
            service.approve_line(s, r.checker, ev.entity_id, key=r.approve_key)
    elif isinstance(r, bulk.Drawdown):
        assert isinstance(r.line, bulk.LineRef)
        line = s.scalars(
            select(CreditLine.id).where(CreditLine.external_ref == r.line.external_ref)
        ).first()
        if line is None:
            raise NotFound("no such line")
        service.draw(s, M, line, amount=r.amount, drawn_on=r.drawn_on,
                     external_ref=r.external_ref, months=r.months, method=r.method,
                     day_count=r.day_count, key=r.key)  # fmt: skip
    elif isinstance(r, bulk.Repayment):
        service.repay(s, M, _loan_id(s, r.loan_id), principal=r.principal, interest=r.interest,
                      paid_on=r.paid_on, key=r.key)  # fmt: skip
    elif isinstance(r, bulk.Default):
        service.mark_default(s, M, _loan_id(s, r.loan_id), on=r.on, key=r.key)
    elif isinstance(r, bulk.WriteOff):
        service.write_off(s, M, _loan_id(s, r.loan_id), amount=r.amount, on=r.on, key=r.key)
    elif isinstance(r, bulk.Recovery):
        service.recover(s, M, _loan_id(s, r.loan_id), amount=r.amount, on=r.on, key=r.key)
    else:
        service.classify(s, M, _loan_id(s, r.loan_id), as_of=r.as_of, floor=r.floor)


@pytest.mark.parametrize("seed", [1, 2])
def test_lines_and_drawdowns_in_bulk_equal_the_services_one_by_one(
    engine: Engine, tmp_path: Path, seed: int
) -> None:
    w = lw.build(engine, pool_funds="1000000.00", leverage=20)
    rows = _book_rows(w, seed)
    with unit_of_work(engine, immediate=True, actor=M) as s:
        result = bulk.record_many(s, M, rows)
    reasons = " | ".join(r.reason for r in result.refused)
    for expected in ("a term of 0 months", "disbursement after the line's end",
                     "disbursement before the line's start", "a charge-off above the loan's "
                     "principal", "has not defaulted", "exists already"):  # fmt: skip
        assert expected in reasons
    bulk_state = _book_state(engine)
    assert any(x[2] == "line_loaded" for x in bulk_state if len(x) == 10)
    other = make_engine(f"sqlite:///{tmp_path / 'one-by-one.db'}")
    upgrade(other)
    try:
        lw.build(other, pool_funds="1000000.00", leverage=20)
        refused = 0
        for r in rows:
            try:
                perform(other, lambda s, r=r: _service_call(s, r), M)
            except InnofinError:
                refused += 1
        assert refused == len(result.refused)
        assert _book_state(other) == bulk_state
    finally:
        other.dispose()
    # re-sent, every row that was recorded replays and nothing changes
    refused_at = {f.index for f in result.refused}
    resent = [
        r for i, r in enumerate(rows)
        if i not in refused_at and not isinstance(r, bulk.Classification)
    ]  # fmt: skip
    with unit_of_work(engine, immediate=True, actor=M) as s:
        again = bulk.record_many(s, M, resent)
    assert (again.recorded, again.replayed, again.refused) == (0, len(resent), [])
    assert _book_state(engine) == bulk_state

"""The ledger's money invariants under concurrent requests, on SQLite and PostgreSQL.

Each test releases its requests together (a `threading.Barrier`), every thread running one
action through `perform` in a unit of work of its own, and records the event it got back or the
exception it raised. The tests then check that exactly as many requests succeeded as the limit
allows, that every refusal is one of the expected errors with its exact message, that the caches
stay within their bounds and that the replay of the history agrees with them.

On PostgreSQL the engine's pool (5 + 10 overflow connections) lets 15 requests at a time into
the database, where they meet at the row locks; on SQLite they queue for BEGIN IMMEDIATE.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import ledger_world as lw
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import Conflict, InvalidInput
from innofin.ledger import replay
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import (
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    Loan,
    PoolClaim,
    RiskPool,
)
from innofin.ledger.pools import service as pools

D = dt.date
M, C = lw.MAKER, lw.CHECKER
Action = Callable[[Session], LedgerEvent]
Outcome = LedgerEvent | Exception


def race(engine: Engine, actor: Actor, actions: Sequence[Action]) -> list[Outcome]:
    """Run the actions in threads released together; each thread's event or exception."""
    barrier = threading.Barrier(len(actions))
    results: list[Outcome | None] = [None] * len(actions)

    def run(i: int, action: Action) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = perform(engine, action, actor)
        except Exception as exc:  # recorded, and judged by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def split(
    outcomes: list[Outcome], allowed: dict[type[Exception], str]
) -> tuple[list[LedgerEvent], list[Exception]]:
    """The events and the refusals; every refusal must be of a type in `allowed` (exactly, not
    a subclass) with a message that matches its pattern in full."""
    events = [o for o in outcomes if isinstance(o, LedgerEvent)]
    errors = [o for o in outcomes if not isinstance(o, LedgerEvent)]
    unexpected = [
        (type(e).__name__, str(e))
        for e in errors
        if type(e) not in allowed or not re.fullmatch(allowed[type(e)], str(e))
    ]
    assert unexpected == []
    return events, errors


def check_clean(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        assert [str(m) for m in replay.check(s)] == []


def drawing(line_id: int, amount: str, ref: str, *, key: str | None = None) -> Action:
    return lambda s: service.draw(
        s,
        M,
        line_id,
        amount=Decimal(amount),
        drawn_on=D(2024, 2, 1),
        external_ref=ref,
        months=12,
        key=key,
    )


def test_concurrent_drawdowns_stay_within_the_line_limit(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="1000000.00")
    outcomes = race(engine, M, [drawing(line_id, "30000.00", f"LN-{i}") for i in range(50)])
    events, errors = split(
        outcomes,
        {
            InvalidInput: r"the drawdown of 30000\.00 exceeds the line's available 10000\.00",
            Conflict: r"the drawdown would exceed the credit line's limit",
        },
    )
    assert (len(events), len(errors)) == (33, 17)
    with unit_of_work(engine) as s:
        line = s.get(CreditLine, line_id)
        assert line is not None
        loans = s.execute(select(Loan.id, Loan.principal).where(Loan.credit_line_id == line_id))
        principals: dict[int, Decimal] = {loan_id: principal for loan_id, principal in loans}
        assert set(principals) == {e.entity_id for e in events}
        assert line.used == sum(principals.values()) == Decimal("990000.00")
        assert line.used <= line.limit_amount
    check_clean(engine)


def test_concurrent_proposals_stay_within_the_commitment(engine: Engine) -> None:
    w = lw.build(engine, commitment="10000000.00")

    def proposing(i: int) -> Action:
        spec = service.LineSpec(
            institution_id=w.bank_id,
            external_ref=f"L-{i}",
            enterprise_id=w.enterprise_ids[i % len(w.enterprise_ids)],
            limit_amount=Decimal("500000.00"),
            opens_on=D(2024, 1, 1),
            matures_on=D(2026, 12, 31),
            rate=Decimal("0.0365"),
            commitment_id=w.commitment_id,
        )
        return lambda s: service.propose_line(s, M, spec)

    outcomes = race(engine, M, [proposing(i) for i in range(25)])
    events, errors = split(
        outcomes,
        {
            Conflict: (
                r"the commitment has 0\.00 left; the line asks for 500000\.00"
                r"|the credit would exceed the agreement's commitment"
            )
        },
    )
    assert (len(events), len(errors)) == (20, 5)
    with unit_of_work(engine) as s:
        commitment = s.get(AgreementCommitment, w.commitment_id)
        assert commitment is not None
        assert commitment.used == 20 * Decimal("500000.00") == commitment.amount
        lines = s.scalars(select(CreditLine.id).where(CreditLine.commitment_id == w.commitment_id))
        assert set(lines) == {e.entity_id for e in events}
    check_clean(engine)


def test_concurrent_claim_payouts_never_overdraw_the_pool(engine: Engine) -> None:
    # 90,000 in the pool; eight defaulted loans of 100,000 with claims of 30 % (30,000) each:
    # three payouts empty the pool exactly, five find it empty
    w = lw.build(engine, pool_funds="90000.00", leverage=10)
    line_id = lw.line(w, limit="1000000.00", commitment=False, pool=True)

    def approved_claim(ref: str) -> int:
        loan = lw.draw(w, line_id, "100000.00", ref)
        perform(engine, lambda s: service.mark_default(s, M, loan, on=D(2024, 8, 1)), M)
        filed = perform(
            engine, lambda s: pools.file_claim(s, M, w.pool_id, loan, on=D(2024, 9, 1)), M
        )
        assert filed.amount == Decimal("30000.00")
        claim = filed.entity_id
        perform(
            engine, lambda s: pools.decide_claim(s, C, claim, approve=True, on=D(2024, 9, 2)), C
        )
        return claim

    claim_ids = [approved_claim(f"LN-{i}") for i in range(8)]

    def paying(claim: int) -> Action:
        return lambda s: pools.pay_claim(s, C, claim, on=D(2024, 9, 3))

    outcomes = race(engine, C, [paying(c) for c in claim_ids])
    events, errors = split(
        outcomes,
        {
            Conflict: (
                r"risk pool POOL-1: payout 30000\.00 would take the pool balance 0\.00 below "
                r"zero \(short by 30000\.00\)"
                r"|the change conflicts with the ledger: .*balance_nonneg.*"
            )
        },
    )
    assert (len(events), len(errors)) == (3, 5)
    with unit_of_work(engine) as s:
        pool = s.get(RiskPool, w.pool_id)
        assert pool is not None
        assert (pool.paid_out, pool.balance) == (Decimal("90000.00"), Decimal("0.00"))
        assert len(events) * Decimal("30000.00") <= pool.contributed
        paid = s.scalars(select(PoolClaim.id).where(PoolClaim.status == "paid"))
        assert set(paid) == {e.data["claim_id"] for e in events}
    check_clean(engine)


def test_concurrent_covered_drawdowns_keep_the_leverage_limit(engine: Engine) -> None:
    w = lw.build(engine, pool_funds="100000.00", leverage=10)
    line_id = lw.line(w, limit="5000000.00", commitment=False, pool=True)
    outcomes = race(engine, M, [drawing(line_id, "100000.00", f"LN-{i}") for i in range(20)])
    events, errors = split(
        outcomes,
        {
            Conflict: (
                r"risk pool POOL-1: the leverage limit \(10 × its balance 100000\.00\) leaves "
                r"0\.00 of new covered credit; the drawdown is 100000\.00"
                r"|the change conflicts with the ledger: .*within_leverage.*"
            )
        },
    )
    assert (len(events), len(errors)) == (10, 10)
    with unit_of_work(engine) as s:
        pool = s.get(RiskPool, w.pool_id)
        line = s.get(CreditLine, line_id)
        assert pool is not None and line is not None
        assert pool.leverage is not None
        assert (pool.leverage, pool.balance) == (10, Decimal("100000.00"))
        assert pool.covered_outstanding == Decimal("1000000.00") == line.used
        assert pool.covered_outstanding <= pool.leverage * pool.balance
        assert s.scalar(select(func.count()).select_from(Loan)) == 10
    check_clean(engine)


def test_one_idempotency_key_from_many_threads_takes_effect_once(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="1000000.00", commitment=False)
    same = drawing(line_id, "25000.00", "LN-1", key="draw-once")
    outcomes = race(engine, M, [same] * 8)
    events, errors = split(outcomes, {})
    assert (len(events), len(errors)) == (8, 0)
    assert len({e.id for e in events}) == 1
    with unit_of_work(engine) as s:
        line = s.get(CreditLine, line_id)
        assert line is not None and line.used == Decimal("25000.00")
        assert s.scalars(select(Loan.id)).all() == [events[0].entity_id]
        keyed = select(func.count()).where(LedgerEvent.idempotency_key == "draw-once")
        assert s.scalar(keyed) == 1
    check_clean(engine)


def test_concurrent_repayments_never_overpay_a_loan(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="100000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "100000.00", "LN-1")

    def repaying() -> Action:
        return lambda s: service.repay(
            s, M, loan_id, principal=Decimal("30000.00"), paid_on=D(2024, 3, 1)
        )

    outcomes = race(engine, M, [repaying() for _ in range(10)])
    events, errors = split(
        outcomes,
        {
            InvalidInput: (
                r"the repayment of 30000\.00 exceeds the outstanding principal 10000\.00"
            ),
            Conflict: r"the repayment would exceed the outstanding principal",
        },
    )
    assert (len(events), len(errors)) == (3, 7)
    with unit_of_work(engine) as s:
        loan = s.get(Loan, loan_id)
        assert loan is not None
        assert (loan.outstanding_principal, loan.principal_repaid, loan.status) == (
            Decimal("10000.00"),
            Decimal("90000.00"),
            "active",
        )
    check_clean(engine)

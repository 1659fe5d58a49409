"""The ledger's use cases against SQLite and PostgreSQL: credit lines with maker-checker,
drawdowns within limits, repayments, default, write-off, recovery, reversals, risk pools, the
history and the replay check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

import ledger_world as lw
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput
from innofin.ledger import queries, replay
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import AgreementCommitment, CreditLine, LedgerEvent, Loan, RiskPool
from innofin.ledger.pools import service as pools

D = dt.date
M, C = lw.MAKER, lw.CHECKER


def _get(engine: Engine, model: type, ident: int) -> object:
    with unit_of_work(engine) as s:
        found = s.get(model, ident)
        assert found is not None
        return found


def _check_clean(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        assert [str(m) for m in replay.check(s)] == []


def test_line_maker_checker_and_commitment(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="4000000.00", approve=False)
    commitment = _get(engine, AgreementCommitment, w.commitment_id)
    assert commitment.used == Decimal("4000000.00")  # type: ignore[attr-defined]
    with pytest.raises(Forbidden, match="maker-checker"):
        perform(engine, lambda s: service.approve_line(s, M, line_id), M)
    assert _get(engine, CreditLine, line_id).status == "pending"  # type: ignore[attr-defined]
    perform(engine, lambda s: service.approve_line(s, C, line_id), C)
    line = _get(engine, CreditLine, line_id)
    assert (line.status, line.maker_id, line.checker_id) == ("approved", M.label, C.label)  # type: ignore[attr-defined]
    # the commitment has 6,000,000 left: a 7,000,000 line is refused, and nothing is written
    with pytest.raises(Conflict, match=r"6000000\.00 left"):
        lw.line(w, "L-2", limit="7000000.00")
    rejected = lw.line(w, "L-3", limit="1000000.00", approve=False)
    perform(engine, lambda s: service.approve_line(s, C, rejected, approve=False), C)
    assert _get(engine, AgreementCommitment, w.commitment_id).used == Decimal("4000000.00")  # type: ignore[attr-defined]
    _check_clean(engine)


def test_drawdowns_within_the_limit_and_bad_input_changes_nothing(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="1000000.00", commitment=False)
    lw.draw(w, line_id, "600000.00", "LN-1")
    with pytest.raises(InvalidInput, match=r"exceeds the line's available 400000\.00") as exc:
        lw.draw(w, line_id, "400000.01", "LN-2")
    assert exc.value.field == "amount"
    with pytest.raises(InvalidInput) as exc:
        lw.draw(w, line_id, "1000.00", "LN-3", on=D(2023, 12, 31))
    assert exc.value.field == "drawn_on"
    with pytest.raises(InvalidInput) as exc:
        perform(
            engine,
            lambda s: service.draw(
                s, M, line_id, amount=Decimal("10.00"), drawn_on=D(2024, 3, 1),
                external_ref="LN-4", months=6, currency="USD",
            ),
            M,
        )  # fmt: skip
    assert exc.value.field == "currency"
    with unit_of_work(engine) as s:
        assert s.scalar(select(text("count(*)")).select_from(Loan)) == 1
        assert s.get(CreditLine, line_id).used == Decimal("600000.00")  # type: ignore[union-attr]
    _check_clean(engine)


def test_the_database_refuses_a_line_above_its_limit(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="1000.00", commitment=False)
    with pytest.raises(DBAPIError), unit_of_work(engine) as s:
        s.execute(
            text("UPDATE credit_line SET used = limit_amount + 1 WHERE id = :i"), {"i": line_id}
        )


def test_repayments_schedule_and_closing(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="120000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "120000.00", "LN-1", on=D(2024, 1, 15), months=12)
    with unit_of_work(engine) as s:
        rows = s.execute(
            text("SELECT principal, interest FROM loan_instalment WHERE loan_id = :l ORDER BY seq"),
            {"l": loan_id},
        ).all()
    assert len(rows) == 12
    perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("10000.00"),
            interest=Decimal("377.17"), paid_on=D(2024, 2, 15)), M)  # fmt: skip
    with pytest.raises(InvalidInput, match=r"exceeds the outstanding principal 110000\.00"):
        perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("110000.01"),
                paid_on=D(2024, 3, 1)), M)  # fmt: skip
    with pytest.raises(InvalidInput) as exc:
        perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("1.00"),
                paid_on=D(2024, 1, 1)), M)  # fmt: skip
    assert exc.value.field == "paid_on"
    perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("110000.00"),
            paid_on=D(2024, 3, 1)), M)  # fmt: skip
    loan = _get(engine, Loan, loan_id)
    assert (loan.status, loan.outstanding_principal, loan.interest_paid) == (  # type: ignore[attr-defined]
        "closed",
        Decimal("0.00"),
        Decimal("377.17"),
    )
    with pytest.raises(Conflict, match="closed"):
        perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("1.00"),
                paid_on=D(2024, 3, 2)), M)  # fmt: skip
    _check_clean(engine)


def test_revolving_line_gets_its_limit_back_and_reversal_takes_it_again(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="100000.00", commitment=False, revolving=True)
    loan_id = lw.draw(w, line_id, "100000.00", "LN-1", months=6)
    ev = perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("40000.00"),
                 paid_on=D(2024, 3, 1)), M)  # fmt: skip
    assert _get(engine, CreditLine, line_id).used == Decimal("60000.00")  # type: ignore[attr-defined]
    fix = lw.Actor(label="api:maker", channel="api", reason="bank sent the wrong amount")
    with pytest.raises(InvalidInput, match="reason"):
        perform(engine, lambda s: service.reverse(s, M, ev.id), M)
    perform(engine, lambda s: service.reverse(s, fix, ev.id), fix)
    assert _get(engine, CreditLine, line_id).used == Decimal("100000.00")  # type: ignore[attr-defined]
    loan = _get(engine, Loan, loan_id)
    assert loan.outstanding_principal == Decimal("100000.00")  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="reversed already"):
        perform(engine, lambda s: service.reverse(s, fix, ev.id), fix)
    _check_clean(engine)


def test_default_write_off_recovery_and_classification(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="500000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "300000.00", "LN-1", on=D(2024, 1, 10), months=12)
    # nothing paid: on 2024-05-20 the first instalment (due 2024-02-10) is 100 days late
    ev = perform(engine, lambda s: service.classify(s, M, loan_id, as_of=D(2024, 5, 20)), M)
    assert ev is not None and ev.data["days_past_due"] == 100
    assert _get(engine, Loan, loan_id).category == "substandard"  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="has not defaulted"):
        perform(engine, lambda s: service.write_off(s, M, loan_id, amount=Decimal("1.00"),
                on=D(2024, 6, 1)), M)  # fmt: skip
    perform(engine, lambda s: service.mark_default(s, M, loan_id, on=D(2024, 6, 1)), M)
    perform(engine, lambda s: service.write_off(s, M, loan_id, amount=Decimal("300000.00"),
            on=D(2024, 12, 1)), M)  # fmt: skip
    perform(engine, lambda s: service.recover(s, M, loan_id, amount=Decimal("50000.00"),
            on=D(2025, 3, 1)), M)  # fmt: skip
    loan = _get(engine, Loan, loan_id)
    assert (loan.status, loan.written_off, loan.recovered) == (  # type: ignore[attr-defined]
        "written_off",
        Decimal("300000.00"),
        Decimal("50000.00"),
    )
    with pytest.raises(InvalidInput, match=r"unrecovered write-off 250000\.00"):
        perform(engine, lambda s: service.recover(s, M, loan_id, amount=Decimal("250000.01"),
                on=D(2025, 4, 1)), M)  # fmt: skip
    with unit_of_work(engine) as s:
        kinds = [e.kind for e in queries.history(s, "credit_line", line_id)]
    assert kinds == [
        "line_proposed", "line_approved", "drawn", "classified", "defaulted", "written_off",
        "recovered",
    ]  # fmt: skip
    _check_clean(engine)


def test_idempotent_retry_takes_effect_once(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="100000.00", commitment=False)
    first = lw.draw(w, line_id, "1000.00", "LN-1", key="k-1")
    again = lw.draw(w, line_id, "1000.00", "LN-1", key="k-1")
    assert first == again
    assert _get(engine, CreditLine, line_id).used == Decimal("1000.00")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="different request"):
        lw.draw(w, line_id, "2000.00", "LN-2", key="k-1")


def test_pool_claim_maker_checker_payout_and_recovery(engine: Engine) -> None:
    w = lw.build(engine, pool_funds="1000000.00", leverage=10)
    line_id = lw.line(w, limit="2000000.00", commitment=False, pool=True, tags=("first_loan",))
    loan_id = lw.draw(w, line_id, "1000000.00", "LN-1")
    with pytest.raises(Conflict, match="has not defaulted; there is nothing to claim"):
        perform(engine, lambda s: pools.file_claim(s, M, w.pool_id, loan_id, on=D(2024, 9, 1)), M)
    perform(engine, lambda s: service.mark_default(s, M, loan_id, on=D(2024, 8, 1)), M)
    filed = perform(
        engine, lambda s: pools.file_claim(s, M, w.pool_id, loan_id, on=D(2024, 9, 1)), M
    )
    assert filed.amount == Decimal("350000.00")  # 30 % direct + 5 points first loan
    with pytest.raises(Forbidden, match="maker-checker"):
        perform(engine, lambda s: pools.decide_claim(s, M, filed.entity_id, approve=True,
                on=D(2024, 9, 2)), M)  # fmt: skip
    with pytest.raises(Conflict, match="already"):
        perform(engine, lambda s: pools.file_claim(s, M, w.pool_id, loan_id, on=D(2024, 9, 1)), M)
    perform(engine, lambda s: pools.decide_claim(s, C, filed.entity_id, approve=True,
            on=D(2024, 9, 2)), C)  # fmt: skip
    perform(engine, lambda s: pools.pay_claim(s, C, filed.entity_id, on=D(2024, 9, 3)), C)
    pool: RiskPool = _get(engine, RiskPool, w.pool_id)  # type: ignore[assignment]
    assert (pool.paid_out, pool.balance) == (Decimal("350000.00"), Decimal("650000.00"))
    back = Decimal("35000.00")
    perform(
        engine,
        lambda s: pools.share_recovery(s, M, filed.entity_id, amount=back, on=D(2025, 1, 1)),
        M,
    )
    with unit_of_work(engine) as s:
        pos = pools.positions(s, w.pool_id)
    assert pos["province"]["balance"] == Decimal("685000.00")
    _check_clean(engine)


def test_leverage_limit_blocks_new_covered_credit(engine: Engine) -> None:
    w = lw.build(engine, pool_funds="100000.00", leverage=10)
    line_id = lw.line(w, limit="5000000.00", commitment=False, pool=True)
    lw.draw(w, line_id, "900000.00", "LN-1")
    with pytest.raises(Conflict, match=r"leaves 100000\.00"):
        lw.draw(w, line_id, "100000.01", "LN-2")
    lw.draw(w, line_id, "100000.00", "LN-3")
    assert _get(engine, RiskPool, w.pool_id).covered_outstanding == Decimal("1000000.00")  # type: ignore[attr-defined]
    _check_clean(engine)


def test_events_are_append_only(engine: Engine, owner_engine: Engine) -> None:
    w = lw.build(engine)
    lw.line(w)  # a reservation and a consumption on the commitment
    for sql in ("UPDATE ledger_event SET reason = 'x'", "DELETE FROM limit_entry"):
        # the trigger refuses even the owner (the application role has no such privilege)
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(owner_engine) as s:
            s.execute(text(sql))


def test_check_finds_a_tampered_cache_and_rebuild_repairs_it(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="100000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "50000.00", "LN-1")
    perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("5000.00"),
            paid_on=D(2024, 3, 1)), M)  # fmt: skip
    four_thousand = 400000 if engine.dialect.name == "sqlite" else 4000  # fen on SQLite
    with unit_of_work(engine) as s:
        s.execute(
            text(
                "UPDATE loan SET principal_repaid = :v, outstanding_principal = principal - :v"
                " WHERE id = :i"
            ),
            {"i": loan_id, "v": four_thousand},
        )
    with unit_of_work(engine) as s:
        found = {(m.table, m.column) for m in replay.check(s)}
    assert found == {("loan", "principal_repaid"), ("loan", "outstanding_principal")}
    with unit_of_work(engine) as s:
        assert replay.rebuild(s) == 2
    _check_clean(engine)
    with unit_of_work(engine) as s:
        assert s.scalar(select(text("count(*)")).select_from(LedgerEvent)) >= 4


def test_a_loan_repaid_early_is_never_past_due(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="500000.00", commitment=False, revolving=True)
    loan_id = lw.draw(w, line_id, "120000.00", "LN-E", on=D(2024, 1, 10), months=12)
    # all principal and one month's interest back after a month: the schedule's later
    # interest is never owed, so after maturity the loan is not overdue
    perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("120000.00"),
            interest=Decimal("500.00"), paid_on=D(2024, 2, 10)), M)  # fmt: skip
    with unit_of_work(engine) as s:
        loan = s.get(Loan, loan_id)
        assert loan is not None and loan.status == "closed"
        assert service.days_past_due(s, loan, D(2025, 6, 1)) == 0
    assert (
        perform(engine, lambda s: service.classify(s, M, loan_id, as_of=D(2025, 6, 1)), M) is None
    )
    assert _get(engine, Loan, loan_id).category == "pass"  # type: ignore[attr-defined]

"""Interest subsidies without application on SQLite and PostgreSQL: computed from the loans'
interest, published for notice, objected to, confirmed by the enterprise, paid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine

import ledger_world as lw
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import Conflict, Forbidden
from innofin.ledger import queries
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.subsidies import engine as subsidy_engine
from innofin.ledger.subsidies import service as subsidies

D = dt.date
M = lw.MAKER
RULES = subsidy_engine.SubsidyRules(share=Decimal("0.5"), rate_cap=Decimal("0.03"))


def _loan_paying(w: lw.World, ref: str, interest: str, enterprise: int = 0) -> int:
    line = lw.line(w, f"L-{ref}", commitment=False, enterprise=enterprise)
    loan = lw.draw(w, line, "1000000.00", ref, on=D(2024, 1, 10))
    perform(
        w.engine,
        lambda s: service.repay(
            s, M, loan, principal=Decimal("0"), interest=Decimal(interest), paid_on=D(2024, 6, 30)
        ),
        M,
    )
    return loan


def test_publish_object_confirm_and_pay(engine: Engine) -> None:
    w = lw.build(engine)
    # the lines are priced at 3.65 %: interest up to the 3 % cap is subsidised by half
    first = _loan_paying(w, "LN-1", "36500.00")
    second = _loan_paying(w, "LN-2", "7300.00", enterprise=1)
    with unit_of_work(engine, actor=M) as s:
        published = subsidies.publish(
            s, M, programme="P1", rules=RULES, period_start=D(2024, 1, 1),
            period_end=D(2024, 6, 30), published_on=D(2024, 7, 1), notice_days=7,
        )  # fmt: skip
        by_loan = {x.loan_id: (x.id, x.amount, x.notice_until) for x in published}
    # 36,500 × 3/3.65 = 30,000 subsidisable, half = 15,000; 7,300 → 6,000 → 3,000
    assert by_loan[first][1:] == (Decimal("15000.00"), D(2024, 7, 8))
    assert by_loan[second][1] == Decimal("3000.00")
    s1, s2 = by_loan[first][0], by_loan[second][0]
    firm0, firm1 = w.enterprise_ids[0], w.enterprise_ids[1]
    with pytest.raises(Conflict, match="exist already"), unit_of_work(engine) as s:
        subsidies.publish(s, M, programme="P1", rules=RULES, period_start=D(2024, 1, 1),
                          period_end=D(2024, 6, 30), published_on=D(2024, 7, 2))  # fmt: skip
    with pytest.raises(Conflict, match="under public notice"), unit_of_work(engine) as s:
        subsidies.confirm(s, M, s1, enterprise_id=firm0, on=D(2024, 7, 8))
    with unit_of_work(engine) as s:  # an objection during the notice period holds s2
        subsidies.object_to(s, M, s2, text="the loan was refinanced", on=D(2024, 7, 5))
    with pytest.raises(Conflict, match="objected"), unit_of_work(engine) as s:
        subsidies.confirm(s, M, s2, enterprise_id=firm1, on=D(2024, 7, 9))
    with unit_of_work(engine) as s:
        assert subsidies.resolve(s, M, s2, upheld=True, on=D(2024, 7, 10)).status == "withdrawn"
    with pytest.raises(Forbidden), unit_of_work(engine) as s:
        subsidies.confirm(s, M, s1, enterprise_id=firm1, on=D(2024, 7, 9))
    with pytest.raises(Conflict, match="only confirmed"), unit_of_work(engine) as s:
        subsidies.pay(s, M, s1, on=D(2024, 7, 9))
    with unit_of_work(engine) as s:
        subsidies.confirm(s, M, s1, enterprise_id=firm0, on=D(2024, 7, 9))
        assert subsidies.pay(s, M, s1, on=D(2024, 7, 15)).status == "paid"
    with unit_of_work(engine) as s:
        kinds = [e.kind for e in queries.history(s, "subsidy", s1)]
    assert kinds == ["subsidy_published", "subsidy_confirmed", "subsidy_paid"]


def test_caps_per_loan_carry_over_periods(engine: Engine) -> None:
    w = lw.build(engine)
    loan = _loan_paying(w, "LN-1", "20000.00")
    rules = subsidy_engine.SubsidyRules(share=Decimal("0.5"), cap_per_loan=Decimal("12000.00"))

    def publish(start: dt.date, end: dt.date) -> list[object]:
        with unit_of_work(engine, actor=M) as s:
            return list(
                subsidies.publish(
                    s, M, programme="P", rules=rules, period_start=start, period_end=end,
                    published_on=end + dt.timedelta(days=1),
                )
            )  # fmt: skip

    (h1,) = publish(D(2024, 1, 1), D(2024, 6, 30))
    assert h1.amount == Decimal("10000.00")  # type: ignore[attr-defined]
    perform(engine, lambda s: service.repay(s, M, loan, principal=Decimal("0"),
            interest=Decimal("20000.00"), paid_on=D(2024, 12, 31)), M)  # fmt: skip
    (h2,) = publish(D(2024, 7, 1), D(2024, 12, 31))
    assert h2.amount == Decimal("2000.00")  # type: ignore[attr-defined]  # 12,000 over the loan's life

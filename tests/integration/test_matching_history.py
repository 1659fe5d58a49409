"""The track record's loans read as plain columns and kept per engine (`matching.history`) equal
the reading from scratch through the ORM, row by row, on a hand-made ledger; what is kept is read
again when a loan is added, defaults, or a firm's zone or revenue changes; a recommendation from
what is kept equals one from scratch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import factories
import matching_reference as reference
from innofin.db import unit_of_work
from innofin.kernel.settings import Settings
from innofin.ledger.models import CreditLine, Loan
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import columns, history, service
from innofin.matching.recommend import track_engine as track
from innofin.matching.scopes import OPERATOR
from innofin.registry.models import Enterprise, IndicatorReport, Institution, Product

T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)
RULE = Settings.from_env().disclosure


# --------------------------------------------------------------------------- from scratch


def orm_history(session: Session) -> pl.DataFrame:
    return reference.orm_history(session, columns._codes(session), columns._lenders(session))


KEY = ["institution_id", "enterprise", "drawn_on", "amount", "defaulted"]


def assert_equal_to_scratch(engine: Engine) -> pl.DataFrame:
    with unit_of_work(engine) as s:
        codes, lenders = columns._codes(s), columns._lenders(s)
        kept, cells = columns._track_record(s, codes, lenders, RULE)
        scratch = orm_history(s)
    assert kept.select(scratch.columns).sort(KEY).equals(scratch.sort(KEY))
    fresh = track.track_cells(scratch, RULE)
    for level, frame in cells.items():
        keys = ["institution", *level]
        assert frame.sort(keys).equals(fresh[level].select(frame.columns).sort(keys)), level
    return kept


# --------------------------------------------------------------------------- the ledger


def _world(engine: Engine) -> dict[str, int]:
    """Two zones, three fields' worth of firms with revenue in several years (one with none),
    two banks, loans of odd amounts, one defaulted, one in a non-performing class."""
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        z1, z2 = factories.zone("Z1", province="甲省"), factories.zone("Z2", province="乙省")
        s.add_all([z1, z2])
        s.flush()
        fields = ["electronic_information", "new_materials", "bio_medicine"]
        firms = [
            factories.enterprise(n, zone_id=(z1 if n % 2 else z2).id, tech_field=fields[n % 3],
                                 growth_stage="growth", founded_on=dt.date(2015, 1, 1))
            for n in range(1, 8)
        ]  # fmt: skip
        s.add_all(firms)
        s.flush()
        for k, f in enumerate(firms[:-1]):  # the last firm has no report
            revenue = Decimal(f"{(k + 1) * 3_333_333}.33")
            s.add(IndicatorReport(enterprise_id=f.id, year=2023, revenue=revenue, lineage={}))
            if k % 2:  # a later report, without revenue for one firm in three
                revenue = None if k % 3 == 0 else Decimal(f"{(k + 1) * 45_678_901}.07")
                s.add(IndicatorReport(enterprise_id=f.id, year=2024, revenue=revenue, lineage={}))
        banks = [Institution(code=c, name=f"{c}银行", kind="bank") for c in ("BA", "BB")]
        s.add_all(banks)
        s.flush()
        ids.update(bank=banks[0].id, firm=firms[0].id, z2=z2.id)
        for bank in banks:
            s.add(Product(code=f"P{bank.code}", institution_id=bank.id, name=f"{bank.name}贷",
                          kind="pure_credit_loan", financing_mode="indirect",
                          amount_min=Decimal("100000.00"), amount_max=Decimal("5000000.00"),
                          eligibility={}))  # fmt: skip
        n = 0
        for k, f in enumerate(firms):
            for j, bank in enumerate(banks[: 1 + k % 2]):
                n += 1
                amount = Decimal(f"{1_234_567 * (k + 1) + j}.89")
                category = "doubtful" if k == 5 else "pass"
                _lend(s, bank, f, n, amount, dt.date(2023, 1 + k, 10), k == 3, category)
        s.add(FinancingNeed(enterprise_id=firms[0].id, amount=Decimal("2000000.00"),
                            term_months=12, purpose="working_capital", collateral_offered=[],
                            needed_by=dt.date(2025, 3, 31), posted_at=T0))  # fmt: skip
        s.flush()
        ids["need"] = s.scalar(select(func.max(FinancingNeed.id))) or 0
    return ids


def _lend(s: Session, bank: Institution, firm: Enterprise, n: int, amount: Decimal,
          drawn: dt.date, defaulted: bool = False, category: str = "pass") -> None:  # fmt: skip
    line = CreditLine(
        institution_id=bank.id, external_ref=f"L{n}", enterprise_id=firm.id, limit_amount=amount,
        opens_on=drawn, matures_on=drawn + dt.timedelta(days=365), rate_kind="fixed",
        rate=Decimal("0.0400"), status="approved", maker_id="m", checker_id="c", created_at=T0,
        used=amount,
    )  # fmt: skip
    s.add(line)
    s.flush()
    s.add(Loan(
        credit_line_id=line.id, institution_id=bank.id, enterprise_id=firm.id,
        external_ref=f"K{n}", currency="CNY", principal=amount, drawn_on=drawn,
        matures_on=drawn + dt.timedelta(days=365), months=12, method="interest_bullet",
        day_count="ACT/360", annual_rate=Decimal("0.0400"), outstanding_principal=amount,
        defaulted_on=drawn + dt.timedelta(days=200) if defaulted else None, category=category,
    ))  # fmt: skip
    s.flush()


# --------------------------------------------------------------------------- tests


def test_the_kept_track_record_equals_the_reading_from_scratch(engine: Engine) -> None:
    history.forget()
    _world(engine)
    kept = assert_equal_to_scratch(engine)
    # firms 2, 4 and 6 borrow from both banks; firm 4 defaulted, firm 6 is in a non-performing
    # class; firm 7 has no report, firm 4's latest report has no revenue (its 2023 one counts)
    assert kept.height == 10 and kept["defaulted"].sum() == 4
    assert kept["revenue"].null_count() == 1
    # nothing changed: the same frames, not read again
    with unit_of_work(engine) as s:
        codes, lenders = columns._codes(s), columns._lenders(s)
        again, _cells = columns._track_record(s, codes, lenders, RULE)
        assert again is kept
        assert history.loans(s) is history.loans(s)


def test_what_is_kept_is_read_again_when_the_ledger_or_the_registry_changes(
    engine: Engine,
) -> None:
    history.forget()
    ids = _world(engine)
    first = assert_equal_to_scratch(engine)
    with unit_of_work(engine) as s:  # a new loan
        bank = s.get(Institution, ids["bank"])
        firm = s.get(Enterprise, ids["firm"])
        assert bank is not None and firm is not None
        _lend(s, bank, firm, 99, Decimal("777777.77"), dt.date(2024, 6, 1))
    second = assert_equal_to_scratch(engine)
    assert second.height == first.height + 1
    with unit_of_work(engine) as s:  # a loan defaults
        loan = s.scalars(select(Loan).where(Loan.external_ref == "K99")).one()
        loan.category = "loss"
    third = assert_equal_to_scratch(engine)
    assert third["defaulted"].sum() == second["defaulted"].sum() + 1
    with unit_of_work(engine) as s:  # a firm moves zone, a report brings a new revenue
        firm = s.get(Enterprise, ids["firm"])
        assert firm is not None
        firm.zone_id = ids["z2"]
        s.add(IndicatorReport(enterprise_id=firm.id, year=2025, revenue=Decimal("250000000.01"),
                              lineage={}))  # fmt: skip
    fourth = assert_equal_to_scratch(engine)
    moved = fourth.filter(pl.col("enterprise") == ids["firm"])
    assert (moved["zone_id"] == ids["z2"]).all() and (moved["size"] == 2).all()


def test_a_recommendation_from_what_is_kept_equals_one_from_scratch(engine: Engine) -> None:
    history.forget()
    ids = _world(engine)
    with unit_of_work(engine) as s:
        cold = service.recommend_need(s, OPERATOR, ids["need"])
    with unit_of_work(engine) as s:
        warm = service.recommend_need(s, OPERATOR, ids["need"])
    history.forget()
    with unit_of_work(engine) as s:
        scratch = service.recommend_need(s, OPERATOR, ids["need"])
    assert cold == warm == scratch
    assert len(cold.products) == 2 and len(cold.institutions) == 2

"""Matching against a hand-made registry and ledger: needs, reasons that name their facts, the
disclosure rule for other institutions' records, near misses, empty answers, the back-test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

import factories
from innofin.access.models import Consent
from innofin.db import unit_of_work
from innofin.kernel.codes import Role
from innofin.kernel.errors import Forbidden, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine, Loan
from innofin.matching.models import FinancingNeed
from innofin.matching.needs import service as needs
from innofin.matching.recommend import service
from innofin.matching.schemas import NeedCreate, NeedFields
from innofin.matching.scopes import OPERATOR
from innofin.registry.models import IndicatorReport, Institution, Product

T0 = dt.datetime(2025, 1, 10, 9, 0, tzinfo=dt.UTC)
MILLION2 = Decimal("2000000.00")


def _world(engine: Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        z1, z2 = factories.zone("Z1", province="甲省"), factories.zone("Z2", province="乙省")
        s.add_all([z1, z2])
        s.flush()
        firms = [
            factories.enterprise(
                n,
                zone_id=z1.id,
                tech_field="electronic_information",
                growth_stage="growth",
                founded_on=dt.date(2015, 1, 1),
            )
            for n in range(1, 9)
        ]
        s.add_all(firms)
        s.flush()
        for f in firms:
            s.add(IndicatorReport(enterprise_id=f.id, year=2024, revenue=Decimal("20000000.00"),
                                  lineage={}))  # fmt: skip
        bank_a = Institution(code="BA", name="甲银行", kind="bank")
        bank_b = Institution(code="BB", name="乙银行", kind="bank")
        s.add_all([bank_a, bank_b])
        s.flush()
        ids.update(a=bank_a.id, b=bank_b.id, target=firms[7].id, z1=z1.id)

        def product(code: str, bank: Institution, **over: Any) -> int:
            values: dict[str, Any] = {
                "code": code, "institution_id": bank.id, "name": f"{bank.name}{code}",
                "kind": "pure_credit_loan", "financing_mode": "indirect",
                "amount_min": Decimal("100000.00"), "amount_max": Decimal("5000000.00"),
                "eligibility": {},
            }  # fmt: skip
            values.update(over)
            row = Product(**values)
            s.add(row)
            s.flush()
            return row.id

        ids["pa"] = product("PA", bank_a)
        ids["pb"] = product("PB", bank_b)
        ids["pc"] = product("PC", bank_b, eligibility={"min_points": "99"})

        def lend(bank: Institution, firm_index: int, n: int, drawn: dt.date) -> None:
            firm = firms[firm_index]
            line = CreditLine(
                institution_id=bank.id, external_ref=f"L{bank.code}{n}", enterprise_id=firm.id,
                limit_amount=MILLION2, opens_on=drawn, matures_on=drawn + dt.timedelta(days=365),
                rate_kind="fixed", rate=Decimal("0.0400"), status="approved", maker_id="m",
                checker_id="c", created_at=T0, used=MILLION2,
            )  # fmt: skip
            s.add(line)
            s.flush()
            s.add(Loan(
                credit_line_id=line.id, institution_id=bank.id, enterprise_id=firm.id,
                external_ref=f"K{bank.code}{n}", currency="CNY", principal=MILLION2,
                drawn_on=drawn, matures_on=drawn + dt.timedelta(days=365), months=12,
                method="interest_bullet", day_count="ACT/360", annual_rate=Decimal("0.0400"),
                outstanding_principal=MILLION2,
            ))  # fmt: skip

        for i in range(5):  # bank A: five borrowers of the target's field, size and zone
            lend(bank_a, i, i, dt.date(2023, 3, 1))
        for i in (5, 6):  # bank B: two
            lend(bank_b, i, i, dt.date(2023, 4, 1))
        lend(bank_a, 5, 9, dt.date(2024, 5, 1))  # firm 5 moves to bank A in the test period
        s.flush()
        need = FinancingNeed(
            enterprise_id=firms[7].id, amount=MILLION2, term_months=12,
            purpose="working_capital", collateral_offered=[], needed_by=dt.date(2025, 3, 31),
            posted_at=T0,
        )  # fmt: skip
        s.add(need)
        s.add(Consent(enterprise_id=firms[7].id, institution_id=bank_b.id, granted_at=T0))
        s.flush()
        ids["need"] = need.id
    return ids


def _bank(institution_id: int) -> Principal:
    return Principal(9, "bank", frozenset({Role.INSTITUTION_OFFICER}), 9, "institution",
                     institution_ids=frozenset({institution_id}))  # fmt: skip


def test_reasons_name_the_facts_and_others_records_obey_disclosure(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        result = service.recommend_need(s, OPERATOR, ids["need"])
    assert [m.product_id for m in result.products] == [ids["pa"], ids["pb"]]
    assert result.institutions[0].institution_id == ids["a"]
    first = {r.code: r for r in result.products[0].reasons}
    track = first["track_record"]
    assert track.facts == {
        "loans": 6,  # five in 2023, and firm 5's in 2024
        "borrowers": 6,
        "median_yuan": 2_000_000.0,
        "default_share": 0.0,
        "cell": ["field", "size", "zone"],
    }
    assert "lent 6 loans to Electronic information firms" in track.en
    assert "in this zone (Z1)" in track.en and "median 2.0 m yuan" in track.en
    assert "发放贷款 6 笔" in track.zh and "中位数 200万元" in track.zh
    assert first["approvals"].facts == {"approved": 6, "decided": 6}
    assert "approved 6 of the 6 credit lines" in first["approvals"].en
    # bank B's record has two borrowers: too few to be shown to anyone but bank B
    assert "track_record" not in {r.code for r in result.products[1].reasons}
    # the near miss names the one condition that failed
    assert [(m.product_id, m.failed_rule) for m in result.near_misses] == [(ids["pc"], "points")]
    assert "99" in result.near_misses[0].zh
    with unit_of_work(engine) as s:
        as_b = service.recommend_need(s, _bank(ids["b"]), ids["need"])
    assert [m.product_id for m in as_b.products] == [ids["pb"]]  # only its own catalogue
    own = {r.code: r for r in as_b.products[0].reasons}["track_record"]
    assert own.facts["loans"] == 2


def test_a_need_nothing_fits_gets_a_message_not_an_error(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        big = NeedCreate.model_validate({
            "enterprise_id": ids["target"], "amount": "900000000.00", "term_months": 12,
            "purpose": "expansion", "needed_by": "2025-06-30",
        })  # fmt: skip
        need_id = needs.post_need(s, OPERATOR, big).id
    with unit_of_work(engine) as s:
        result = service.recommend_need(s, OPERATOR, need_id)
    assert result.products == [] and result.institutions == []
    assert result.message is not None and "no product" in result.message
    assert {m.failed_rule for m in result.near_misses} == {"amount"}


def test_precheck_lists_every_rule(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        check = service.precheck(s, OPERATOR, ids["need"], ids["pc"])
    assert not check.eligible
    failed = [r for r in check.rules if not r.passed]
    assert [r.code for r in failed] == ["points"]
    assert "not scored" in failed[0].en and "未评分" in failed[0].zh


def test_who_posts_and_changes_a_need(engine: Engine) -> None:
    ids = _world(engine)
    firm = Principal(0, "firm", frozenset({Role.ENTERPRISE_USER}), 8, "enterprise",
                     enterprise_id=ids["target"])  # fmt: skip
    body = {"amount": "300000.00", "term_months": 6, "purpose": "rd", "needed_by": "2025-05-01"}
    with unit_of_work(engine) as s:
        mine = needs.post_need(
            s, firm, NeedCreate.model_validate({**body, "enterprise_id": ids["target"]})
        )
        assert mine.enterprise_id == ids["target"] and mine.status == "open"
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        needs.post_need(s, firm, NeedCreate.model_validate({**body, "enterprise_id": 1}))
    with pytest.raises(Forbidden) as refused, unit_of_work(engine) as s:
        needs.update_need(s, firm, ids["need"], NeedFields(enterprise_id=ids["target"]))
    assert refused.value.field == "enterprise_id"
    with unit_of_work(engine) as s:
        changed = needs.update_need(s, firm, ids["need"], NeedFields(status="withdrawn"))
        assert changed.status == "withdrawn"


def test_backtest_on_the_hand_made_ledger(engine: Engine) -> None:
    _world(engine)
    with unit_of_work(engine) as s:
        result = service.backtest(s, dt.date(2023, 12, 31), dt.date(2024, 1, 1))
    # one firm borrowed in the test period, from bank A: the larger book in its zone ranks first
    # for every method, but its own earlier lender (bank B) takes the recommender's first place
    assert result.tested == 1
    assert result.overall["hit@1"] == 1.0 and result.zone["hit@1"] == 1.0
    assert result.recommender["hit@1"] == 0.0 and result.recommender["mrr"] == 0.5

"""Re-matching after a decline with interest subsidies, against a hand-made registry and a ledger
whose programme has published a subsidy: after every reason code the firm is offered something
— products of other institutions, and the subsidy of its zone's programme —, also when only the
subsidy remains; a programme of another zone, out of its dates or earmarked for other fields
offers nothing; every re-match is stored, read back as each caller may see it, and counted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import factories
from innofin.access.models import Consent
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import Role
from innofin.kernel.principal import Principal
from innofin.ledger import queries
from innofin.ledger.loans import service as loans
from innofin.ledger.programmes import service as programmes
from innofin.ledger.subsidies import engine as subsidy_engine
from innofin.ledger.subsidies import service as subsidies
from innofin.matching.models import FinancingNeed, NeedRematch, RematchAlternative
from innofin.matching.referrals import engine as ref
from innofin.matching.referrals import rematch
from innofin.matching.referrals import service as referrals
from innofin.matching.scopes import OPERATOR
from innofin.registry.models import IndicatorReport, Institution, Product

AT = dt.datetime(2025, 3, 3, 2, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Beijing
KIND = {
    "A": "pure_credit_loan",
    "B": "pure_credit_loan",
    "G": "guarantee",
    "E": "equity_investment",
}
MAKER, CHECKER = Actor("cli:maker", "cli"), Actor("cli:checker", "cli")
RULES = subsidy_engine.SubsidyRules(
    share=Decimal("0.5"), rate_cap=Decimal("0.031"), cap_per_loan=Decimal("200000")
)


def _world(
    engine: Engine,
    *,
    programme_zone: str = "Z1",
    ends_on: dt.date = dt.date(2025, 12, 31),
    earmark: str | None = None,
) -> dict[str, Any]:
    """Zone Z1 (and Z2) with a firm in electronic information asking 2 m; banks A and B, a
    guarantor G and an equity investor E with a product each, all consented to; programme SUB
    (zones `programme_zone`, bank A) whose agreement's commitment is earmarked for `earmark`,
    with a loan of another firm that paid interest and a published subsidy."""
    ids: dict[str, Any] = {}
    with unit_of_work(engine, actor=MAKER) as s:
        zones = {code: factories.zone(code) for code in ("Z1", "Z2")}
        s.add_all(zones.values())
        s.flush()
        firm = factories.enterprise(
            1,
            zone_id=zones["Z1"].id,
            tech_field="electronic_information",
            growth_stage="growth",
            founded_on=dt.date(2015, 1, 1),
        )
        other = factories.enterprise(2, zone_id=zones[programme_zone].id)
        s.add_all([firm, other])
        s.flush()
        s.add(
            IndicatorReport(enterprise_id=firm.id, year=2024, revenue=Decimal("2.0E7"), lineage={})
        )
        for code, kind in KIND.items():
            inst = Institution(code=code, name=f"机构{code}", kind="bank")
            s.add(inst)
            s.flush()
            ids[code] = inst.id
            prod = Product(
                code=f"P{code}",
                institution_id=inst.id,
                name=f"产品{code}",
                kind=kind,
                financing_mode="direct" if kind == "equity_investment" else "indirect",
                amount_min=Decimal("100000.00"),
                amount_max=Decimal("5000000.00"),
                eligibility={},
            )
            s.add(prod)
            s.flush()
            ids[f"p{code}"] = prod.id
            s.add(Consent(enterprise_id=firm.id, institution_id=inst.id, granted_at=AT))
        need = FinancingNeed(
            enterprise_id=firm.id,
            amount=Decimal("2000000.00"),
            term_months=12,
            purpose="working_capital",
            collateral_offered=[],
            equity_acceptable=True,
            needed_by=dt.date(2025, 6, 30),
            posted_at=AT,
        )
        s.add(need)
        s.flush()
        ids.update(need=need.id, firm=firm.id, other=other.id)
        prog = programmes.create_programme(
            s, MAKER, code="SUB", name="贴息计划", sponsor="省科技厅",
            starts_on=dt.date(2024, 1, 1), ends_on=ends_on,
            zone_ids=[zones[programme_zone].id], institution_ids=[ids["A"]],
        )  # fmt: skip
        programmes.sign_agreement(
            s, MAKER, code="AG-SUB", kind="government_bank", institution_id=ids["A"],
            counterparty="省科技厅", signed_on=dt.date(2024, 1, 1), starts_on=dt.date(2024, 1, 1),
            ends_on=dt.date(2025, 12, 31), programme_id=prog.id,
            commitments=[programmes.CommitmentSpec(
                Decimal("50000000.00"), dt.date(2024, 1, 1), dt.date(2025, 12, 31), earmark
            )],
        )  # fmt: skip
        spec = loans.LineSpec(
            institution_id=ids["A"], external_ref="L-SUB", enterprise_id=other.id,
            limit_amount=Decimal("5000000.00"), opens_on=dt.date(2024, 1, 1),
            matures_on=dt.date(2026, 12, 31), rate=Decimal("0.0400"), programme_id=prog.id,
        )  # fmt: skip
        line = loans.propose_line(s, MAKER, spec).entity_id
        loans.approve_line(s, CHECKER, line)
        loan = loans.draw(
            s, MAKER, line, amount=Decimal("1000000.00"), drawn_on=dt.date(2024, 2, 1),
            external_ref="LN-SUB", months=24,
        ).entity_id  # fmt: skip
        loans.repay(
            s, MAKER, loan, principal=Decimal(0), interest=Decimal("40000.00"),
            paid_on=dt.date(2024, 6, 30),
        )  # fmt: skip
        published = subsidies.publish(
            s, MAKER, programme="SUB", rules=RULES, period_start=dt.date(2024, 1, 1),
            period_end=dt.date(2024, 6, 30), published_on=dt.date(2024, 7, 1),
            among=subsidies.programme_loans(prog.id),
        )  # fmt: skip
        assert len(published) == 1
        ids["programme"] = prog.id
    return ids


def _bank(institution_id: int) -> Principal:
    return Principal(
        9, "bank", frozenset({Role.INSTITUTION_OFFICER}), 9, "institution",
        institution_ids=frozenset({institution_id}),
    )  # fmt: skip


def _firm(enterprise_id: int) -> Principal:
    return Principal(
        8, "firm", frozenset({Role.ENTERPRISE_USER}), 8, "enterprise", enterprise_id=enterprise_id
    )


def _decline(engine: Engine, ids: dict[str, Any], code: str) -> rematch.Rematch:
    text = "the board said no" if code == "other" else None
    with unit_of_work(engine) as s:
        [row] = referrals.refer(s, OPERATOR, ids["need"], [ids["A"]], at=AT)
        out = referrals.respond(s, _bank(ids["A"]), row.id, "decline", code=code, text=text, at=AT)
    assert out.rematch is not None
    return out.rematch


def test_the_ledger_names_the_programme_s_scheme(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        [found] = queries.subsidy_schemes(s)
    assert found.code == "SUB" and found.programme_id == ids["programme"]
    assert found.institution_ids == {ids["A"]} and found.fields == frozenset()
    made = rematch.scheme(found)
    assert (made.share, made.rate_cap, made.cap_per_loan) == (
        Decimal("0.5"),
        Decimal("0.031"),
        Decimal("200000"),
    )


@pytest.mark.parametrize("code", list(ref.DECLINE_REASONS))
def test_every_reason_offers_products_then_the_subsidy(engine: Engine, code: str) -> None:
    ids = _world(engine)
    got = _decline(engine, ids, code)
    kinds = [a["instrument"] for a in got.alternatives]
    assert kinds[-1] == "subsidy" and kinds.count("subsidy") == 1
    assert set(kinds[:-1]) <= {"loan", "guaranteed", "equity"} and len(kinds) == 4
    first = {"too_young": "equity", "revenue_too_low": "equity", "risk": "guaranteed"}
    assert kinds[0] == first.get(code, "loan")
    offered = got.alternatives[-1]
    assert offered["programme_id"] == ids["programme"]
    assert offered["facts"]["share"] == "0.5" and offered["facts"]["institution_ids"] == [ids["A"]]
    assert "50%" in offered["zh"] and "3.1%" in offered["en"]
    assert got.referred is not None and got.referred.institution_id != ids["A"]
    with unit_of_work(engine) as s:  # stored as offered, in order
        stored = s.scalars(
            select(RematchAlternative)
            .where(RematchAlternative.rematch_id == got.id)
            .order_by(RematchAlternative.rank)
        ).all()
        assert [a.instrument for a in stored] == kinds
        assert stored[0].referral_id == got.referred.id
        assert s.get(NeedRematch, got.id).decline_code == code  # type: ignore[union-attr]


@pytest.mark.parametrize("code", list(ref.DECLINE_REASONS))
def test_when_no_product_fits_the_subsidy_remains(engine: Engine, code: str) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        for p in s.scalars(select(Product).where(Product.institution_id != ids["A"])):
            p.amount_max = Decimal("1000000.00")  # the need asks for 2 m
    got = _decline(engine, ids, code)
    assert [a["instrument"] for a in got.alternatives] == ["subsidy"]
    assert got.referred is None
    assert got.message is not None and "subsidy the firm qualifies for is offered instead" in (
        got.message
    )
    with unit_of_work(engine) as s:  # the firm reads it back later
        [doc] = rematch.alternatives(s, _firm(ids["firm"]), ids["need"])
    assert doc["decline_code"] == code and doc["withheld"] == 0
    assert [(a["instrument"], a["programme_code"]) for a in doc["alternatives"]] == [
        ("subsidy", "SUB")
    ]


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ({"programme_zone": "Z2"}, "another zone"),
        ({"ends_on": dt.date(2025, 3, 2)}, "ended the day before"),
        ({"earmark": "new_materials"}, "earmarked for another field"),
    ],
)
def test_a_programme_the_firm_does_not_belong_to_offers_nothing(
    engine: Engine, where: dict[str, Any], why: str
) -> None:
    ids = _world(engine, **where)
    got = _decline(engine, ids, "risk")
    assert "subsidy" not in [a["instrument"] for a in got.alternatives], why
    assert got.alternatives  # the other products are still offered


def test_a_firm_left_with_nothing_is_told_why_and_counted(engine: Engine) -> None:
    ids = _world(engine, programme_zone="Z2")
    with unit_of_work(engine) as s:
        for p in s.scalars(select(Product).where(Product.institution_id != ids["A"])):
            p.amount_max = Decimal("1000000.00")
    got = _decline(engine, ids, "amount_too_large")
    assert got.alternatives == [] and got.message is not None
    assert "no other product fits" in got.message
    assert "no programme of the firm's zone pays an interest subsidy" in got.message
    with unit_of_work(engine) as s:
        [row] = [r for r in referrals.funnel(s) if r.institution_id == ids["A"]]
        [doc] = rematch.alternatives(s, OPERATOR, ids["need"])
    assert (row.rematched, row.left_with_nothing, row.alternatives_by_instrument) == (1, 1, {})
    assert doc["alternatives"] == [] and doc["message"] == got.message


def test_each_caller_reads_the_alternatives_it_may_see_and_the_funnel_counts_them(
    engine: Engine,
) -> None:
    ids = _world(engine)
    got = _decline(engine, ids, "risk")
    referred = got.referred
    assert referred is not None
    with unit_of_work(engine) as s:
        [firm] = rematch.alternatives(s, _firm(ids["firm"]), ids["need"])
        [bank] = rematch.alternatives(s, _bank(referred.institution_id), ids["need"])
        counts = rematch.counts(s)
        funnel = {r.institution_id: r for r in referrals.funnel(s)}
        stored = s.scalar(select(func.count()).select_from(RematchAlternative))
    assert len(firm["alternatives"]) == 4 == stored
    # the institution the need was re-matched to sees only its own offer, not the others
    assert [a["institution_id"] for a in bank["alternatives"]] == [referred.institution_id]
    assert bank["withheld"] == 3
    assert counts[ids["A"]].rematched == 1 and counts[ids["A"]].left_with_nothing == 0
    assert counts[ids["A"]].by_instrument == {"equity": 1, "guaranteed": 1, "loan": 1, "subsidy": 1}
    assert funnel[ids["A"]].alternatives_by_instrument == counts[ids["A"]].by_instrument

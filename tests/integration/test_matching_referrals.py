"""Referrals of needs and special-credit allocation against a hand-made registry and ledger:
deadlines over a holiday, consent, each decline reason's re-match, a firm with nothing left, the
funnel, overdue flags, allocation runs stored and accepted into proposed credit lines, and
(PostgreSQL) two institutions declining one need at once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import factories
from innofin.access.models import Consent
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import Role
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import Agreement, AgreementCommitment, CreditLine, Programme
from innofin.matching.allocation import service as allocation
from innofin.matching.models import (
    AllocationRow,
    AllocationRun,
    CalendarDay,
    FinancingNeed,
    NeedReferral,
)
from innofin.matching.referrals import engine as ref
from innofin.matching.referrals import service as referrals
from innofin.matching.scopes import OPERATOR
from innofin.registry.models import IndicatorReport, Institution, Product

FRIDAY = dt.datetime(2025, 1, 10, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
MILLION2 = Decimal("2000000.00")
BANKS = ("A", "B", "C", "G", "E")  # three lenders, a guarantor, an equity investor
KIND = {
    "A": "pure_credit_loan",
    "B": "pure_credit_loan",
    "C": "pure_credit_loan",
    "G": "guarantee",
    "E": "equity_investment",
}


def _world(engine: Engine, consent: tuple[str, ...] = BANKS) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    with unit_of_work(engine) as s:
        z = factories.zone("Z1")
        s.add(z)
        s.flush()
        firm = factories.enterprise(
            1,
            zone_id=z.id,
            tech_field="electronic_information",
            growth_stage="growth",
            founded_on=dt.date(2015, 1, 1),
        )
        other = factories.enterprise(
            2,
            zone_id=z.id,
            tech_field="new_materials",
            growth_stage="growth",
            founded_on=dt.date(2016, 1, 1),
        )
        s.add_all([firm, other])
        s.flush()
        for f in (firm, other):
            s.add(
                IndicatorReport(enterprise_id=f.id, year=2024, revenue=Decimal("2.0E7"), lineage={})
            )
        for code in BANKS:
            inst = Institution(code=code, name=f"机构{code}", kind="bank")
            s.add(inst)
            s.flush()
            ids[code] = inst.id
            kind = KIND[code]
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
            if code in consent:
                s.add(Consent(enterprise_id=firm.id, institution_id=inst.id, granted_at=FRIDAY))
        prog = Programme(
            code="SC2025",
            name="专项信贷",
            sponsor="省科技厅",
            starts_on=dt.date(2025, 1, 1),
            ends_on=dt.date(2025, 12, 31),
            zone_ids=[z.id],
            institution_ids=[ids["A"], ids["B"]],
            created_at=FRIDAY,
        )
        s.add(prog)
        s.flush()
        need = FinancingNeed(
            enterprise_id=firm.id,
            programme_id=prog.id,
            amount=MILLION2,
            term_months=12,
            purpose="working_capital",
            collateral_offered=[],
            equity_acceptable=True,
            needed_by=dt.date(2025, 3, 31),
            posted_at=FRIDAY,
        )
        s.add(need)
        s.flush()
        ids.update(need=need.id, firm=firm.id, other=other.id, zone=z.id, programme=prog.id)
    return ids


def _bank(institution_id: int) -> Principal:
    return Principal(
        9,
        "bank",
        frozenset({Role.INSTITUTION_OFFICER}),
        9,
        "institution",
        institution_ids=frozenset({institution_id}),
    )


def _firm(enterprise_id: int) -> Principal:
    return Principal(
        8, "firm", frozenset({Role.ENTERPRISE_USER}), 8, "enterprise", enterprise_id=enterprise_id
    )


def test_a_need_goes_to_several_institutions_with_a_deadline_past_a_holiday(
    engine: Engine,
) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        s.add(CalendarDay(calendar="CN", day=dt.date(2025, 1, 13), kind="holiday", name="测试"))
    with unit_of_work(engine) as s:
        rows = referrals.refer(s, OPERATOR, ids["need"], [ids["A"], ids["B"]], at=FRIDAY)
        assert {r.institution_id for r in rows} == {ids["A"], ids["B"]}
        # Friday + 2 business days, Monday a holiday: Wednesday
        assert {r.deadline for r in rows} == {dt.date(2025, 1, 15)}
        assert all(r.reasons for r in rows)  # the recommender's reasons travel with them
        assert s.get(FinancingNeed, ids["need"]).status == "referred"  # type: ignore[union-attr]
    with unit_of_work(engine) as s, pytest.raises(Conflict, match="referred already"):
        referrals.refer(s, OPERATOR, ids["need"], [ids["A"]], at=FRIDAY)
    with unit_of_work(engine) as s:  # an institution sees only its own referrals
        seen = s.scalars(referrals.referrals_query(_bank(ids["A"]))).all()
        assert [r.institution_id for r in seen] == [ids["A"]]
        assert s.scalars(referrals.referrals_query(_bank(ids["C"]))).all() == []


def test_an_institution_without_consent_is_named_and_nothing_written(engine: Engine) -> None:
    ids = _world(engine, consent=("A",))
    with unit_of_work(engine) as s, pytest.raises(InvalidInput, match=f"institution {ids['B']}"):
        referrals.refer(s, OPERATOR, ids["need"], [ids["A"], ids["B"]], at=FRIDAY)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(NeedReferral)) == 0


@pytest.mark.parametrize("code", list(ref.DECLINE_REASONS))
def test_every_decline_reason_rematches_the_need(engine: Engine, code: str) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        [row] = referrals.refer(s, OPERATOR, ids["need"], [ids["A"]], at=FRIDAY)
        rid = row.id
    text = "the board said no" if code == "other" else None
    with unit_of_work(engine) as s:
        out = referrals.respond(s, _bank(ids["A"]), rid, "decline", code=code, text=text)
        assert out.referral.status == "declined" and out.referral.decline_code == code
        assert out.rematch is not None and out.rematch.referred is not None
        new = out.rematch.referred
        assert new.institution_id != ids["A"] and new.rematch_of_id == rid
        assert new.source == "rematch" and new.status == "referred"
        first = out.rematch.alternatives[0]
        expected = {"too_young": "equity", "revenue_too_low": "equity", "risk": "guaranteed"}
        assert first["instrument"] == expected.get(code, "loan")
        assert first["referred"] is True
        assert ids["A"] not in {a["institution_id"] for a in out.rematch.alternatives}
    with unit_of_work(engine) as s:  # the enterprise sees each referral's status and reason
        seen = s.scalars(referrals.referrals_query(_firm(ids["firm"]), need_id=ids["need"])).all()
        assert [(r.status, r.decline_code) for r in seen] == [
            ("declined", code),
            ("referred", None),
        ]


def test_a_firm_declined_everywhere_is_told_why(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        rows = referrals.refer(s, OPERATOR, ids["need"], [ids[c] for c in BANKS], at=FRIDAY)
        rid = rows[0].id
    with unit_of_work(engine) as s:
        out = referrals.respond(s, _bank(ids["A"]), rid, "decline", code="risk")
    assert out.rematch is not None and out.rematch.referred is None
    assert out.rematch.message and "has had it already" in out.rematch.message


def test_no_eligible_product_names_the_failed_rule(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        for p in s.scalars(select(Product)):
            if p.institution_id != ids["A"]:
                p.amount_max = Decimal("1000000.00")  # the need asks for 2 m
    with unit_of_work(engine) as s:
        [row] = referrals.refer(s, OPERATOR, ids["need"], [ids["A"]], at=FRIDAY)
        out = referrals.respond(s, _bank(ids["A"]), row.id, "decline", code="amount_too_large")
    assert out.rematch is not None and out.rematch.referred is None
    assert out.rematch.message is not None
    assert "no other product fits" in out.rematch.message and "amount" in out.rematch.message


def test_a_decline_needs_a_reason_and_only_its_institution_answers(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        [row] = referrals.refer(s, OPERATOR, ids["need"], [ids["A"]], at=FRIDAY)
        rid = row.id
    with unit_of_work(engine) as s, pytest.raises(InvalidInput, match="reason code"):
        referrals.respond(s, _bank(ids["A"]), rid, "decline")
    with unit_of_work(engine) as s, pytest.raises(InvalidInput, match="needs a text"):
        referrals.respond(s, _bank(ids["A"]), rid, "decline", code="other")
    with unit_of_work(engine) as s, pytest.raises(NotFound):
        referrals.respond(s, _bank(ids["B"]), rid, "opt_in")  # not its referral: not there
    with unit_of_work(engine) as s:
        referrals.respond(s, _bank(ids["A"]), rid, "opt_in")
    with unit_of_work(engine) as s, pytest.raises(Conflict, match="answered already"):
        referrals.respond(s, _bank(ids["A"]), rid, "opt_in")
    with unit_of_work(engine) as s, pytest.raises(Forbidden):
        referrals.advance(s, _firm(ids["firm"]), rid, "contacted")


def test_the_funnel_counts_steps_conversion_and_time_to_credit(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        a, b = referrals.refer(s, OPERATOR, ids["need"], [ids["A"], ids["B"]], at=FRIDAY)
        ra, rb = a.id, b.id
        line = CreditLine(
            institution_id=ids["A"],
            external_ref="L1",
            enterprise_id=ids["firm"],
            limit_amount=MILLION2,
            opens_on=dt.date(2025, 1, 20),
            matures_on=dt.date(2026, 1, 20),
            rate_kind="fixed",
            rate=Decimal("0.0400"),
            status="pending",
            maker_id="m",
            created_at=FRIDAY,
            used=Decimal(0),
        )
        s.add(line)
        s.flush()
        line_id = line.id
    bank = _bank(ids["A"])
    day = dt.timedelta(days=1)
    with unit_of_work(engine) as s:
        referrals.respond(s, bank, ra, "opt_in", at=FRIDAY + day)
        referrals.advance(s, bank, ra, "contacted", at=FRIDAY + 2 * day)
        referrals.advance(s, bank, ra, "applied", at=FRIDAY + 3 * day)
        referrals.advance(s, bank, ra, "approved", credit_line_id=line_id, at=FRIDAY + 6 * day)
        referrals.respond(s, _bank(ids["B"]), rb, "decline", code="outside_fields", at=FRIDAY + day)
    with unit_of_work(engine) as s:
        rows = {r.institution_id: r for r in referrals.funnel(s)}
    fa, fb = rows[ids["A"]], rows[ids["B"]]
    assert (fa.referred, fa.opted_in, fa.contacted, fa.applied, fa.approved) == (1, 1, 1, 1, 1)
    assert fa.credit_lines == 1 and fa.conversion == 1.0
    assert fa.median_days_to_answer == 1.0 and fa.median_days_to_credit == 6.0
    assert fb.declined == 1 and fb.declined_by_reason == {"outside_fields": 1}
    assert fb.opted_in == 0 and fb.conversion == 0.0
    # B's decline re-matched the need to another institution (C, G or E), waiting for it
    assert sum(r.referred for i, r in rows.items() if i not in (ids["A"], ids["B"])) == 1


def test_overdue_referrals_are_flagged_once(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        referrals.refer(s, OPERATOR, ids["need"], [ids["A"], ids["B"]], at=FRIDAY)
    with unit_of_work(engine) as s:
        [rb] = s.scalars(select(NeedReferral).where(NeedReferral.institution_id == ids["B"]))
        referrals.respond(s, _bank(ids["B"]), rb.id, "opt_in")
    tuesday = dt.datetime(2025, 1, 14, 2, 0, tzinfo=dt.UTC)  # the deadline day itself
    with unit_of_work(engine) as s:
        assert referrals.flag_overdue(s, at=tuesday) == []
    thursday = tuesday + dt.timedelta(days=1)
    with unit_of_work(engine) as s:
        [late] = referrals.flag_overdue(s, at=thursday)
        assert late.institution_id == ids["A"] and late.overdue_flagged_at == thursday
    with unit_of_work(engine) as s:
        [again] = referrals.flag_overdue(s, at=thursday + dt.timedelta(days=1))
        assert again.overdue_flagged_at is not None
        assert again.overdue_flagged_at.replace(tzinfo=dt.UTC) == thursday


def _commitments(engine: Engine, ids: dict[str, Any], amounts: dict[str, str]) -> None:
    with unit_of_work(engine) as s:
        for code, amount in amounts.items():
            ag = Agreement(
                code=f"AG{code}",
                kind="government_bank",
                programme_id=ids["programme"],
                institution_id=ids[code],
                counterparty="省科技厅",
                signed_on=dt.date(2025, 1, 1),
                starts_on=dt.date(2025, 1, 1),
                ends_on=dt.date(2025, 12, 31),
                created_at=FRIDAY,
            )
            s.add(ag)
            s.flush()
            s.add(
                AgreementCommitment(
                    agreement_id=ag.id,
                    tech_field=None,
                    period_start=dt.date(2025, 1, 1),
                    period_end=dt.date(2025, 12, 31),
                    amount=Decimal(amount),
                )
            )


def test_an_allocation_run_is_stored_and_becomes_proposed_credit_lines(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        s.add(
            FinancingNeed(
                enterprise_id=ids["other"],
                programme_id=ids["programme"],
                amount=Decimal("3000000.00"),
                term_months=24,
                purpose="rd",
                collateral_offered=[],
                needed_by=dt.date(2025, 6, 30),
                posted_at=FRIDAY,
            )
        )
    _commitments(engine, ids, {"A": "1500000.00", "B": "4000000.00"})
    quotas = allocation.Quotas(
        field_max={"new_materials": Decimal("2500000")}, zone_max={}, zone_floor={}
    )
    with unit_of_work(engine) as s:
        run = allocation.allocate(
            s, ids["programme"], quotas, on=dt.date(2025, 1, 20), created_by="tester"
        )
        run_id = run.id
        assert run.solver == "HiGHS" and run.solver_version.count(".") == 2
        assert run.solver_status == "optimal" and run.parameters["mip_rel_gap"] == 0.001
        assert run.fcfs_objective is not None
        rows = s.scalars(select(AllocationRow).where(AllocationRow.run_id == run_id)).all()
        # no scores: each yuan weighs 1; the new-materials need (3 m) is over its field's quota
        # of 2.5 m and is funded in part (at least half of it), the 2 m need in full
        got: dict[int, Decimal] = {}
        for r in rows:  # a need may be funded by both banks' commitments
            got[r.need_id] = got.get(r.need_id, Decimal(0)) + r.amount
        assert got == {ids["need"]: MILLION2, ids["need"] + 1: Decimal("2500000.00")}
        assert {r.institution_id for r in rows} <= {ids["A"], ids["B"]}
        assert [b["kind"] for b in run.result["binding"]] == ["field_quota"]
        assert run.result["binding"][0]["key"] == "new_materials"
    with unit_of_work(engine) as s:
        lines = allocation.accept(s, Actor("officer", "cli"), run_id, opens_on=dt.date(2025, 1, 20))
    with unit_of_work(engine) as s:
        got = s.scalars(select(CreditLine).where(CreditLine.id.in_(lines))).all()
        assert sum(line.limit_amount for line in got) == Decimal("4500000.00")
        assert {line.status for line in got} == {"pending"}  # the checker approves them
        assert s.get(AllocationRun, run_id).status == "accepted"  # type: ignore[union-attr]
    with unit_of_work(engine) as s, pytest.raises(Conflict, match="accepted already"):
        allocation.accept(s, Actor("officer", "cli"), run_id, opens_on=dt.date(2025, 1, 20))


def test_a_floor_that_cannot_be_met_is_named_in_the_run(engine: Engine) -> None:
    ids = _world(engine)
    _commitments(engine, ids, {"A": "1000000.00"})
    quotas = allocation.Quotas(field_max={}, zone_max={}, zone_floor={"Z1": Decimal("5000000")})
    with unit_of_work(engine) as s:
        run = allocation.allocate(
            s, ids["programme"], quotas, on=dt.date(2025, 1, 20), created_by="tester"
        )
        assert run.result["unmet"] and "zone Z1: floor 5,000,000.00 yuan" in run.result["unmet"][0]
    with unit_of_work(engine) as s, pytest.raises(InvalidInput, match="unknown zone 'Z9'"):
        allocation.allocate(
            s,
            ids["programme"],
            allocation.Quotas(field_max={}, zone_max={}, zone_floor={"Z9": Decimal(1)}),
            on=dt.date(2025, 1, 20),
            created_by="tester",
        )


def test_two_institutions_declining_one_need_at_once_rematch_in_turn(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite writes one at a time anyway")
    ids = _world(engine)
    with unit_of_work(engine) as s:
        rows = referrals.refer(s, OPERATOR, ids["need"], [ids["A"], ids["B"]], at=FRIDAY)
        pairs = [(r.id, r.institution_id) for r in rows]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def decline(rid: int, inst: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(engine) as s:
                referrals.respond(s, _bank(inst), rid, "decline", code="risk")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=decline, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with unit_of_work(engine) as s:
        all_rows = s.scalars(select(NeedReferral).order_by(NeedReferral.id)).all()
    institutions = [r.institution_id for r in all_rows]
    assert len(institutions) == len(set(institutions)) == 4  # two declined, two re-matched
    assert sorted(r.status for r in all_rows) == ["declined", "declined", "referred", "referred"]

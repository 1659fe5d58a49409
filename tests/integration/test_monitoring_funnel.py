"""The funnel and the institution scorecards against a hand-made programme: every step, median
and rate computed by hand here; what an institution sees (its own rows, anonymous aggregates
only with enough firms or institutions and none dominating); a programme it does not take part
in answers 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

import factories
from innofin.db import unit_of_work
from innofin.events.models import Event, EventSchedule, Meeting, MeetingOutcome
from innofin.kernel.codes import Role
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.errors import NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine, Loan, Programme
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.matching.scopes import OPERATOR
from innofin.monitoring.funnel.scorecard import scorecards
from innofin.monitoring.funnel.service import funnel_summary
from innofin.registry.models import IndicatorReport, Institution, Product

T0 = dt.datetime(2025, 3, 3, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing, a Monday
AT = dt.datetime(2025, 6, 30, 4, 0, tzinfo=dt.UTC)
NEED = Decimal("1000000.00")
LIMIT = Decimal("800000.00")


def _days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def _line(s: Any, ids: dict[str, int], bank: str, firm: int, ref: str, **over: Any) -> int:
    line = CreditLine(
        institution_id=ids[bank],
        external_ref=ref,
        enterprise_id=ids[f"e{firm}"],
        programme_id=ids["prog"],
        product_id=ids[f"p{bank}"],
        tags=[],
        limit_amount=LIMIT,
        opens_on=dt.date(2025, 3, 1),
        matures_on=dt.date(2026, 3, 1),
        rate_kind="fixed",
        rate=Decimal("0.0400"),
        status="approved",
        maker_id="maker",
        checker_id="checker",
        created_at=T0,
        **over,
    )
    s.add(line)
    s.flush()
    return line.id


def _loan(
    s: Any, ids: dict[str, int], bank: str, firm: int, line: int, ref: str, on: dt.date, **over: Any
) -> None:
    principal = over.pop("principal", Decimal("500000.00"))
    s.add(
        Loan(
            credit_line_id=line,
            institution_id=ids[bank],
            enterprise_id=ids[f"e{firm}"],
            external_ref=ref,
            currency="CNY",
            principal=principal,
            drawn_on=on,
            matures_on=on + dt.timedelta(days=365),
            months=12,
            method="interest_bullet",
            day_count="ACT/360",
            annual_rate=Decimal("0.0400"),
            outstanding_principal=principal,
            **over,
        )
    )


def _world(engine: Engine) -> dict[str, int]:
    """Six firms in Z1, banks A (a points product), B and C in one programme, D in none.

    A gets all six firms' needs: answers after 1–5 days (firm 6 never: overdue); approves
    firms 1–3 after 10, 12 and 14 days with credit lines, firms 1 and 2 drawing after 20 and 30
    days; declines firm 4 (risk) and firm 5 (amount too large). B declines firm 1 (risk) after
    one day; C opts in for firm 2 after half a day. B has its own line with a defaulted loan."""
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        z = factories.zone("Z1")
        s.add(z)
        s.flush()
        for n in range(1, 7):
            firm = factories.enterprise(n, zone_id=z.id, tech_field="new_materials")
            s.add(firm)
            s.flush()
            ids[f"e{n}"] = firm.id
            s.add(IndicatorReport(enterprise_id=firm.id, year=2024, revenue=Decimal("2.0E7")))
        for code, kind in (("A", "points_loan"), ("B", "pure_credit_loan"), ("C", "leasing"),
                           ("D", "pure_credit_loan")):  # fmt: skip
            inst = Institution(code=code, name=f"银行{code}", kind="bank")
            s.add(inst)
            s.flush()
            ids[code] = inst.id
            prod = Product(
                code=f"P{code}", institution_id=inst.id, name=f"产品{code}", kind=kind,
                financing_mode="indirect", eligibility={},
            )  # fmt: skip
            s.add(prod)
            s.flush()
            ids[f"p{code}"] = prod.id
        prog = Programme(
            code="P1", name="专项", sponsor="省科技厅", starts_on=dt.date(2025, 1, 1),
            ends_on=dt.date(2025, 12, 31), zone_ids=[z.id],
            institution_ids=[ids["A"], ids["B"], ids["C"]], created_at=T0,
        )  # fmt: skip
        s.add(prog)
        s.flush()
        ids["prog"] = prog.id
        needs = {}
        for n in range(1, 7):
            need = FinancingNeed(
                enterprise_id=ids[f"e{n}"], programme_id=prog.id, amount=NEED, term_months=12,
                purpose="working_capital", collateral_offered=[], needed_by=dt.date(2025, 9, 30),
                posted_at=T0,
            )  # fmt: skip
            s.add(need)
            s.flush()
            needs[n] = need.id

        def refer(bank: str, n: int, **over: Any) -> None:
            s.add(
                NeedReferral(
                    need_id=needs[n], institution_id=ids[bank], consent_at=T0, referred_at=T0,
                    deadline=dt.date(2025, 3, 5), **over,
                )
            )  # fmt: skip

        for n, days in ((1, 10), (2, 12), (3, 14)):
            line = _line(s, ids, "A", n, f"LA{n}")
            refer("A", n, status="approved", responded_at=_days(n), approved_at=_days(days),
                  credit_line_id=line)  # fmt: skip
            if n < 3:
                on = (_days(10 * n + 10) + dt.timedelta(hours=8)).date()
                _loan(s, ids, "A", n, line, f"LOANA{n}", on)
        refer("A", 4, status="declined", responded_at=_days(4), declined_at=_days(4),
              decline_code="risk")  # fmt: skip
        refer("A", 5, status="declined", responded_at=_days(5), declined_at=_days(5),
              decline_code="amount_too_large")  # fmt: skip
        refer("A", 6)
        refer("B", 1, status="declined", responded_at=_days(1), declined_at=_days(1),
              decline_code="risk")  # fmt: skip
        refer("C", 2, status="contacted", responded_at=_days(0.5), contacted_at=_days(1))
        line_b = _line(s, ids, "B", 4, "LB1")
        _loan(s, ids, "B", 4, line_b, "LOANB1", dt.date(2025, 4, 1),
              defaulted_on=dt.date(2025, 6, 1), category="substandard")  # fmt: skip
    return ids


def _bank(ids: dict[str, int], code: str) -> Principal:
    return Principal(
        9, "bank", frozenset({Role.INSTITUTION_OFFICER}), 9, "institution",
        institution_ids=frozenset({ids[code]}),
    )  # fmt: skip


def test_the_funnel_as_an_officer_sees_it(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        f = funnel_summary(s, OPERATOR, ids["prog"], at=AT)
    counts = {st.step: st.count for st in f.steps}
    assert counts == {
        "needs": 6,
        "referred": 8,
        "answered": 7,  # A 5, B 1, C 1
        "opted_in": 4,  # A's three approvals, C
        "approved": 3,
        "credit_lines": 3,
        "drawn": 2,
    }
    assert f.step("needs").amount == 6 * NEED
    assert f.step("credit_lines").amount == 3 * LIMIT
    assert f.step("drawn").amount == Decimal("1000000.00")
    assert f.step("referred").enterprises == 6
    # answers after 0.5, 1, 1, 2, 3, 4, 5 days; approvals after 10, 12, 14; drawdowns 20, 30
    assert f.median_days_to_response == 2.0
    assert f.median_days_to_approval == 12.0
    assert f.median_days_to_credit == 25.0
    assert f.declines == {"amount_too_large": 1, "risk": 2}
    assert f.conversion("approved") == round(3 / 8, 4)
    rows = {r.institution_name: r for r in f.institutions}
    assert set(rows) == {"银行A", "银行B", "银行C"}
    a = rows["银行A"]
    assert (a.referred, a.answered, a.approved, a.declined, a.credit_lines, a.drawn) == (
        6, 5, 3, 2, 3, 2,
    )  # fmt: skip
    assert a.overdue == 1 and a.median_days_to_response == 3.0
    assert a.median_days_to_credit == 25.0
    assert rows["银行B"].declines == {"risk": 1}
    assert not f.own_only and f.meetings is None


def test_an_institution_sees_its_own_rows_and_anonymous_totals(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        f = funnel_summary(s, _bank(ids, "B"), ids["prog"], at=AT)
        loose = funnel_summary(
            s, _bank(ids, "B"), ids["prog"], at=AT, rule=DisclosureRule(min_contributors=3)
        )
        with pytest.raises(NotFound):
            funnel_summary(s, _bank(ids, "D"), ids["prog"], at=AT)
    assert f.own_only
    assert [r.institution_name for r in f.institutions] == ["银行B"]
    counts = {st.step: st.count for st in f.steps}
    # six firms referred (two of them twice: 2 of 8, no dominance) are shown; three approved
    # firms are too few for five
    assert counts["needs"] == 6 and counts["referred"] == 8
    assert counts["approved"] is None and counts["credit_lines"] is None
    assert f.step("credit_lines").amount is None
    assert f.median_days_to_credit is None  # two firms drew
    assert f.declines == {"amount_too_large": None, "risk": None}
    # with a looser rule (three firms), the approvals are shown but not the two drawdowns
    assert loose.step("approved").count == 3 and loose.step("drawn").count is None


def _event(engine: Engine, ids: dict[str, int]) -> None:
    """A matchmaking event of the programme: a superseded schedule (not counted) and the
    announced one, in which bank A meets firms 1–5 and bank C firm 6; outcomes: two agreements,
    a follow-up, a no-show, and one for a pair the announced schedule dropped (not counted)."""
    with unit_of_work(engine) as s:
        ev = Event(
            code="EV1", name="对接会", held_on=dt.date(2025, 4, 10), venue="会议中心",
            booking_opens=dt.date(2025, 3, 1), booking_closes=dt.date(2025, 4, 1),
            programme_id=ids["prog"], created_by="test", created_at=T0,
        )  # fmt: skip
        s.add(ev)
        s.flush()
        schedules = []
        for status in ("superseded", "announced"):
            sched = EventSchedule(
                event_id=ev.id, solver="test", solver_version="1", solver_status="optimal",
                status=status, created_by="test", created_at=T0,
            )  # fmt: skip
            s.add(sched)
            s.flush()
            schedules.append(sched.id)
        old, now = schedules
        s.add(Meeting(schedule_id=old, event_id=ev.id, enterprise_id=ids["e1"],
                      institution_id=ids["B"], slot=1, desk=1))  # fmt: skip
        pairs = [(n, "A") for n in range(1, 6)] + [(6, "C")]
        for slot, (n, bank) in enumerate(pairs):
            s.add(Meeting(schedule_id=now, event_id=ev.id, enterprise_id=ids[f"e{n}"],
                          institution_id=ids[bank], slot=slot + 1, desk=1))  # fmt: skip
        for n, bank, kind in ((1, "A", "agreement"), (2, "A", "agreement"),
                              (3, "A", "follow_up"), (6, "C", "no_show"),
                              (1, "B", "agreement")):  # fmt: skip
            s.add(MeetingOutcome(event_id=ev.id, enterprise_id=ids[f"e{n}"],
                                 institution_id=ids[bank], outcome=kind, recorded_by="test",
                                 recorded_at=T0))  # fmt: skip


def test_meetings_at_the_programmes_events_join_the_funnel(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        assert funnel_summary(s, OPERATOR, ids["prog"], at=AT).meetings is None  # no event yet
    _event(engine, ids)
    with unit_of_work(engine) as s:
        f = funnel_summary(s, OPERATOR, ids["prog"], at=AT)
        mine = funnel_summary(s, _bank(ids, "C"), ids["prog"], at=AT)
    m = f.meetings
    assert m is not None
    assert (m.events, m.meetings, m.enterprises, m.agreements) == (1, 6, 6, 2)
    assert m.by_outcome == {
        "follow_up": 1, "agreement": 2, "credit_line": 0, "no_interest": 0, "no_show": 1,
    }  # fmt: skip
    rows = {r.institution_name: r.meetings for r in f.institutions}
    assert rows == {"银行A": 5, "银行B": 0, "银行C": 1}
    # bank C: its own row; the six meetings of six firms are shown, two agreements are not
    assert [(r.institution_name, r.meetings) for r in mine.institutions] == [("银行C", 1)]
    assert mine.meetings is not None
    assert mine.meetings.meetings == 6 and mine.meetings.agreements is None


def test_scorecards_as_an_officer_sees_them(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        cards = scorecards(s, OPERATOR, ids["prog"], at=AT)
        strict = scorecards(s, OPERATOR, ids["prog"], at=AT, rule=DisclosureRule(6))
    by = {c.institution_name: c for c in cards.cards}
    a, b = by["银行A"], by["银行B"]
    assert (a.referred, a.answered, a.overdue, a.decided, a.approved) == (6, 5, 1, 5, 3)
    assert a.median_days_to_response == 3.0 and a.approval_rate == 0.6
    assert (a.credit_lines, a.points_lines, a.points_share) == (3, 3, 1.0)
    assert (a.loans, a.defaulted_loans, a.default_rate) == (2, 0, 0.0)
    # one cell: new materials, revenue 10–100 m yuan (band 1), five firms decided
    (cell,) = a.approval_by_cell
    assert (cell.tech_field, cell.size_band, cell.decided, cell.approved, cell.rate) == (
        "new_materials", 1, 5, 3, 0.6,
    )  # fmt: skip
    (hidden,) = {c.institution_name: c for c in strict.cards}["银行A"].approval_by_cell
    assert hidden.rate is None and hidden.decided is None
    assert (b.decided, b.approved, b.approval_rate, b.points_share) == (1, 0, 0.0, 0.0)
    assert (b.loans, b.defaulted_loans, b.default_rate, b.default_rate_amount) == (1, 1, 1.0, 1.0)
    # every institution pooled: 3 of 6 decided approved, 1 of 3 loans defaulted
    assert cards.peers.institutions == 3
    assert cards.peers.approval_rate == round(3 / 6, 4)
    assert cards.peers.default_rate == round(1 / 3, 4)
    assert cards.peers.points_share == round(3 / 4, 4)
    # answers after 1, 2, 3, 4, 5 (A), 1 (B), 0.5 (C) days
    assert cards.peers.median_days_to_response == 2.0


def test_an_institution_sees_its_own_card_and_the_others_only_when_disclosable(
    engine: Engine,
) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        mine = scorecards(s, _bank(ids, "B"), ids["prog"], at=AT)
        rule = DisclosureRule(2, Decimal("0.9"), Decimal(1))
        # bank D takes part in no programme: over the whole ledger, A, B and C are its peers
        loose = scorecards(s, _bank(ids, "D"), None, at=AT, rule=rule)
    assert [c.institution_name for c in mine.cards] == ["银行B"]
    assert mine.own_only and mine.peers.institutions == 2  # A and C
    assert (
        mine.peers.median_days_to_response,
        mine.peers.approval_rate,
        mine.peers.points_share,
        mine.peers.default_rate,
        mine.peers.default_rate_amount,
    ) == (None, None, None, None, None)
    # three institutions answered (5, 1 and 1 answers: none above 90 %, the top two below all):
    # the median of their answers is shown; only two decided, lent or drew, so the largest two
    # hold everything and those rates stay hidden
    assert loose.cards == () and loose.peers.institutions == 3
    assert loose.peers.median_days_to_response == 2.0
    assert loose.peers.approval_rate is None and loose.peers.default_rate is None

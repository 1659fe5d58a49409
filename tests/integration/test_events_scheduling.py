"""The timetable planned from the database: every stored schedule passes a checker written here
(one meeting a party a slot, desks, no pair twice, only requested pairs), more requests than
room get a report naming each one left out and why, the greedy figures sit beside the solver's,
a re-plan after a cancellation and a late registration keeps the announced meetings, and
matching's recommendations stand in for a firm that asked for nobody."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

import factories
from events_world import BOOKING, build, event_body, firm_user
from innofin.db import unit_of_work
from innofin.events import requests, service
from innofin.events.models import (
    EventInstitution,
    EventSchedule,
    Meeting,
    MeetingRequest,
)
from innofin.events.scheduling import service as scheduling
from innofin.matching.models import FinancingNeed

OP = service.OPERATOR


def check(engine: Engine, schedule_id: int) -> list[Meeting]:
    """An independent check of a stored schedule against the event's rules."""
    with unit_of_work(engine) as s:
        sched = s.get(EventSchedule, schedule_id)
        assert sched is not None
        meetings = list(s.scalars(select(Meeting).where(Meeting.schedule_id == schedule_id)))
        desks = dict(
            s.execute(
                select(EventInstitution.institution_id, EventInstitution.desks).where(
                    EventInstitution.event_id == sched.event_id,
                    EventInstitution.status == "registered",
                )
            ).all()
        )
        asked = {
            (r.enterprise_id, r.institution_id)
            for r in s.scalars(
                select(MeetingRequest).where(MeetingRequest.event_id == sched.event_id)
            )
        }
        n_slots = sum(x.slots for x in service.sessions(s, sched.event_id))
        s.expunge_all()
    pairs = Counter((m.enterprise_id, m.institution_id) for m in meetings)
    assert max(pairs.values(), default=1) == 1, "a pair meets twice"
    assert set(pairs) <= asked, "a meeting nobody asked for"
    firm_slots = Counter((m.enterprise_id, m.slot) for m in meetings)
    assert max(firm_slots.values(), default=1) == 1, "a firm in two meetings at once"
    for m in meetings:
        assert 0 <= m.slot < n_slots
        assert 1 <= m.desk <= desks[m.institution_id], "a desk the institution does not have"
    bank_slots = Counter((m.institution_id, m.slot, m.desk) for m in meetings)
    assert max(bank_slots.values(), default=1) == 1, "two meetings at one desk"
    assert len(meetings) == sched.meetings
    return meetings


def _everyone_asks_everyone(engine: Engine, w: dict[str, int], firms: int) -> None:
    with unit_of_work(engine) as s:
        for n in range(1, firms + 1):
            f = w[f"f{n}"]
            order = [w["A"], w["B"]] if n % 2 else [w["B"], w["A"]]
            requests.set_preferences(s, firm_user(f), w["event"], "enterprise", f, order, BOOKING)


def test_more_requests_than_room_are_reported_one_by_one(engine: Engine) -> None:
    w = build(engine, firms=4)
    _everyone_asks_everyone(engine, w.ids, 4)
    with unit_of_work(engine) as s:
        sched = scheduling.plan(s, OP, w.ids["event"], time_limit_s=5)
        schedule_id = sched.id
        assert sched.requested_pairs == 8
        assert sched.meetings == 6  # two banks × one desk × three slots
        assert sched.solver_status == "optimal"
        assert sched.bound is not None and sched.objective is not None
        assert sched.bound >= sched.objective
        assert sched.greedy_meetings is not None and sched.greedy_meetings <= 6
        left = sched.result["unscheduled"]
        assert len(left) == 2
        assert {x["reason"] for x in left} <= {"institution_full", "enterprise_full"}
        assert all(x["enterprise_name"] and x["institution_name"] for x in left)
        assert sched.status == "draft"
    check(engine, schedule_id)


def test_a_cancellation_and_a_late_firm_keep_the_announced_meetings(engine: Engine) -> None:
    w = build(engine, firms=3, desks={"A": 1, "B": 1})
    _everyone_asks_everyone(engine, w.ids, 3)
    with unit_of_work(engine) as s:
        first = scheduling.plan(s, OP, w.ids["event"], time_limit_s=5, announce_it=True)
        first_id = first.id
        assert first.status == "announced" and first.meetings == 6
        assert service.event(s, OP, w.ids["event"]).status == "scheduled"
    before = {(m.enterprise_id, m.institution_id): m.slot for m in check(engine, first_id)}
    with unit_of_work(engine) as s:
        service.set_enterprise_status(s, OP, w.ids["event"], w.ids["f1"], "cancelled")
    with unit_of_work(engine) as s:
        f9 = factories.enterprise(9, zone_id=w.ids["z1"])
        s.add(f9)
        s.flush()
        service.register_enterprise(s, OP, w.ids["event"], f9.id)
        requests.set_preferences(s, OP, w.ids["event"], "enterprise", f9.id, [w.ids["A"]])
        again = scheduling.plan(s, OP, w.ids["event"], time_limit_s=5)
        again_id, f9_id = again.id, f9.id
        assert again.base_id == first_id
        outcome = again.result["announced"]
        assert outcome["cancelled"] == 2  # f1's two meetings
        assert outcome["kept"] == 4 and outcome["moved"] == 0 and again.moved == 0
        scheduling.announce(s, OP, w.ids["event"], again.id)
        assert s.get(EventSchedule, first_id).status == "superseded"  # type: ignore[union-attr]
    after = {(m.enterprise_id, m.institution_id): m.slot for m in check(engine, again_id)}
    for pair, slot in before.items():
        if pair[0] != w.ids["f1"]:
            assert after[pair] == slot  # kept in place
    assert (f9_id, w.ids["A"]) in after  # the late firm got the slot f1 left


def test_recommendations_stand_in_for_a_firm_that_asked_for_nobody(engine: Engine) -> None:
    from innofin.registry.models import Product

    w = build(engine, firms=2)
    with unit_of_work(engine) as s:
        for bank in ("A", "B"):
            s.add(
                Product(
                    code=f"P-{bank}",
                    institution_id=w.ids[bank],
                    name=f"{bank}科创贷",
                    kind="pure_credit_loan",
                    financing_mode="indirect",
                    amount_max=Decimal("5000000.00"),
                    eligibility={},
                )
            )
        s.add(
            FinancingNeed(
                enterprise_id=w.ids["f2"],
                amount=Decimal("1000000.00"),
                term_months=12,
                purpose="working_capital",
                collateral_offered=[],
                needed_by=dt.date(2026, 12, 31),
                posted_at=BOOKING,
            )
        )
        f1 = w.ids["f1"]
        requests.set_preferences(
            s, firm_user(f1), w.ids["event"], "enterprise", f1, [w.ids["A"]], BOOKING
        )
    with unit_of_work(engine) as s:
        sched = scheduling.plan(s, OP, w.ids["event"], time_limit_s=5)
        assert sched.result["stand_ins"]["enterprises"] == 1
        stand_in = s.scalars(
            select(MeetingRequest).where(MeetingRequest.source == "recommendation")
        ).all()
        assert {r.enterprise_id for r in stand_in if r.side == "enterprise"} == {w.ids["f2"]}
        # the firm that asked keeps its own request; no stand-in replaces it
        own = s.scalars(select(MeetingRequest).where(MeetingRequest.enterprise_id == f1)).all()
        assert {(r.side, r.source) for r in own if r.side == "enterprise"} == {
            ("enterprise", "own")
        }
        schedule_id = sched.id
    meetings = check(engine, schedule_id)
    assert {m.enterprise_id for m in meetings} >= {w.ids["f1"], w.ids["f2"]}


def test_a_many_to_one_session_seats_several_institutions_with_one_firm(engine: Engine) -> None:
    w = build(engine, firms=1)
    with unit_of_work(engine) as s:
        body = event_body(
            "EV-M2O",
            zone_id=w.ids["z1"],
            sessions=[{"starts": "10:00", "slots": 1, "kind": "many_to_one", "group_size": 2}],
        )
        ev = service.create_event(s, OP, body, at=BOOKING)
        assert service.sessions(s, ev.id)[0].group_size == 2
        for bank in ("A", "B"):
            service.add_institution(s, OP, ev.id, w.ids[bank], 1)
        service.register_enterprise(s, OP, ev.id, w.ids["f1"])
        f1 = w.ids["f1"]
        requests.set_preferences(s, OP, ev.id, "enterprise", f1, [w.ids["A"], w.ids["B"]])
        sched = scheduling.plan(s, OP, ev.id, time_limit_s=5)
        meetings = s.scalars(select(Meeting).where(Meeting.schedule_id == sched.id)).all()
        # one slot, one firm: both institutions at its table at once
        assert sorted((m.institution_id, m.slot) for m in meetings) == [
            (w.ids["A"], 0),
            (w.ids["B"], 0),
        ]


def test_a_one_to_one_session_has_no_group() -> None:
    with pytest.raises(ValueError, match="group size of 1"):
        event_body(sessions=[{"starts": "10:00", "slots": 1, "group_size": 2}])
    spec = event_body(sessions=[{"starts": "10:00", "slots": 1, "kind": "many_to_one"}])
    assert spec.sessions[0].group_size == 3

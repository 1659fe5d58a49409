"""Matchmaking events against a small registry: who organises (reach by zone and province),
registration validated by the organiser within the booking window, requests capped and limited
to the event's participants, each side seeing only its own rows."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, select

from events_world import BOOKING, bank_user, build, event_body, firm_user, officer
from innofin.db import unit_of_work
from innofin.events import requests, service
from innofin.events.models import EventEnterprise, EventSession, MeetingRequest
from innofin.events.schemas import EventFields
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound


def test_an_event_takes_its_zones_province_and_numbers_its_sessions(engine: Engine) -> None:
    w = build(engine)
    with unit_of_work(engine) as s:
        ev = service.event(s, service.OPERATOR, w.ids["event"])
        assert (ev.zone_id, ev.province, ev.status) == (w.ids["z1"], "甲省", "open")
        rows = service.sessions(s, ev.id)
        assert [(r.number, r.slots) for r in rows] == [(1, 2), (2, 1)]
        times = service.slot_times(ev, rows)
        assert [t.strftime("%H:%M") for _, t in times] == ["09:00", "09:30", "14:00"]


def test_sessions_must_follow_the_clock_and_not_overlap(engine: Engine) -> None:
    build(engine)
    with unit_of_work(engine) as s:
        overlapping = event_body(
            "EV-2", sessions=[{"starts": "09:00", "slots": 4}, {"starts": "10:30", "slots": 1}]
        )
        with pytest.raises(InvalidInput, match="runs past"):
            service.create_event(s, service.OPERATOR, overlapping)
    with unit_of_work(engine) as s, pytest.raises(Conflict):
        service.create_event(s, service.OPERATOR, event_body("EV-1"))


def test_the_organisers_reach(engine: Engine) -> None:
    w = build(engine)
    event_id = w.ids["event"]
    with unit_of_work(engine) as s:
        assert service.is_organiser(s, officer("甲省"), event_id)
        assert service.is_organiser(s, officer(None), event_id)
        assert not service.is_organiser(s, officer("乙省"), event_id)
        with pytest.raises(Forbidden):
            service.add_institution(s, officer("乙省"), event_id, w.ids["A"], 2)
        # a provincial office's own event carries its province; it may not name another's
        with pytest.raises(Forbidden):
            service.create_event(s, officer("甲省"), event_body("EV-9", province="乙省"))
        ev = service.create_event(s, officer("甲省"), event_body("EV-3"))
        assert (ev.zone_id, ev.province) == (None, "甲省")
        # the province decides who organises: only the admin or the national office moves it
        with pytest.raises(Forbidden, match="province"):
            service.update_event(s, officer("甲省"), ev.id, EventFields(province="乙省"))
        changed = service.update_event(s, officer(None), ev.id, EventFields(province="乙省"))
        assert changed.province == "乙省"
        assert not service.is_organiser(s, officer("甲省"), ev.id)


def test_a_firm_registers_itself_pending_and_the_organiser_validates(engine: Engine) -> None:
    w = build(engine, firms=2)
    event_id = w.ids["event"]
    with unit_of_work(engine) as s:
        ev = service.create_event(s, service.OPERATOR, event_body("EV-2", zone_id=w.ids["z1"]))
        event_id = ev.id
        f1 = firm_user(w.ids["f1"])
        row = service.register_enterprise(s, f1, event_id, w.ids["f1"], at=BOOKING)
        assert row.status == "pending"
        with pytest.raises(NotFound):  # another firm's record is not its to register
            service.register_enterprise(s, f1, event_id, w.ids["f2"], at=BOOKING)
        late = dt.datetime(2026, 7, 12, tzinfo=dt.UTC)
        with pytest.raises(Conflict, match="open from"):
            service.register_enterprise(s, firm_user(w.ids["f2"]), event_id, w.ids["f2"], at=late)
        with pytest.raises(Forbidden):
            service.set_enterprise_status(s, f1, event_id, w.ids["f1"], "validated")
        service.set_enterprise_status(s, officer("甲省"), event_id, w.ids["f1"], "validated")
        status = s.scalar(
            select(EventEnterprise.status).where(EventEnterprise.event_id == event_id)
        )
        assert status == "validated"


def test_requests_are_capped_ranked_and_among_participants(engine: Engine) -> None:
    w = build(engine, firms=5)
    event_id, f1 = w.ids["event"], w.ids["f1"]
    firm = firm_user(f1)
    with unit_of_work(engine) as s:
        made = requests.set_preferences(
            s, firm, event_id, "enterprise", f1, [w.ids["B"], w.ids["A"]], at=BOOKING
        )
        assert [(r.institution_id, r.rank, r.source) for r in made] == [
            (w.ids["B"], 1, "own"),
            (w.ids["A"], 2, "own"),
        ]
        # the list replaces the earlier one
        requests.set_preferences(s, firm, event_id, "enterprise", f1, [w.ids["A"]], at=BOOKING)
        mine = s.scalars(requests.requests_query(firm, event_id)).all()
        assert [(r.institution_id, r.rank) for r in mine] == [(w.ids["A"], 1)]
        with pytest.raises(InvalidInput, match="not a participant"):  # A1 is not at the event
            requests.set_preferences(s, firm, event_id, "enterprise", f1, [w.ids["A1"]], at=BOOKING)
        bank = bank_user(w.ids["A"], w.ids["A1"])
        firms = [w.ids[f"f{n}"] for n in range(1, 5)]
        with pytest.raises(InvalidInput, match="at most 3"):
            requests.set_preferences(s, bank, event_id, "institution", w.ids["A"], firms, BOOKING)
        requests.set_preferences(
            s, bank, event_id, "institution", w.ids["A"], firms[:3], at=BOOKING
        )
        with pytest.raises(Forbidden):  # bank A does not book for bank B
            requests.set_preferences(
                s, bank, event_id, "institution", w.ids["B"], firms[:1], at=BOOKING
            )
        with pytest.raises(Forbidden):  # nor a firm for another firm
            requests.set_preferences(
                s, firm, event_id, "enterprise", w.ids["f2"], [w.ids["A"]], at=BOOKING
            )
        after = dt.datetime(2026, 7, 11, tzinfo=dt.UTC)
        with pytest.raises(Conflict, match="closed"):
            requests.set_preferences(s, firm, event_id, "enterprise", f1, [], at=after)
        # each side sees the requests it made; the organiser all of them
        assert {r.side for r in s.scalars(requests.requests_query(bank, event_id))} == {
            "institution"
        }
        assert {r.side for r in s.scalars(requests.requests_query(firm, event_id))} == {
            "enterprise"
        }
        every = s.scalars(requests.requests_query(officer("甲省"), event_id)).all()
        assert len(every) == 4
        assert s.scalars(requests.requests_query(officer("乙省"), event_id)).all() == []


def test_institutions_see_the_events_firms_by_name_only(engine: Engine) -> None:
    w = build(engine, firms=2)
    event_id = w.ids["event"]
    with unit_of_work(engine) as s:
        seen = service.enterprises_at(s, bank_user(w.ids["B"]), event_id)
        assert {f.enterprise_id for f in seen} == {w.ids["f1"], w.ids["f2"]}
        assert all(f.identifier is None for f in seen)
        own = service.enterprises_at(s, firm_user(w.ids["f1"]), event_id)
        assert [(f.enterprise_id, f.identifier is not None) for f in own] == [(w.ids["f1"], True)]
        banks = service.institutions_at(s, bank_user(w.ids["B"]), event_id)
        assert [b.institution_id for b in banks] == [w.ids["B"]]
        assert len(service.institutions_at(s, firm_user(w.ids["f1"]), event_id)) == 2
        assert s.scalars(select(EventSession)).all()
        assert s.scalars(select(MeetingRequest)).all() == []


def test_two_lists_sent_at_once_for_one_firm_replace_each_other_whole(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite writes one at a time anyway")
    w = build(engine, firms=1)
    event_id, f1 = w.ids["event"], w.ids["f1"]
    lists = ([w.ids["A"], w.ids["B"]], [w.ids["B"]])
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def send(targets: list[int]) -> None:
        try:
            barrier.wait()
            with unit_of_work(engine) as s:
                requests.set_preferences(
                    s, firm_user(f1), event_id, "enterprise", f1, targets, BOOKING
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in lists]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with unit_of_work(engine) as s:
        kept = [
            r.institution_id for r in s.scalars(requests.requests_query(firm_user(f1), event_id))
        ]
    assert kept in (lists[0], lists[1])  # one list whole, never a mix

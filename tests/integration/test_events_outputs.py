"""What an event hands out and what it leads to: agendas read back (XLSX with openpyxl, .ics with
the icalendar library) in both languages, the master timetable, the reminders list, outcomes
linked to the ledger's credit lines and the event report by institution."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import Engine

import factories
from events_world import BOOKING, HELD_ON, bank_user, build, firm_user, officer
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.events import agendas, outcomes, requests, service
from innofin.events.scheduling import service as scheduling
from innofin.events.schemas import OutcomeIn
from innofin.kernel.errors import Conflict, Forbidden, NotFound

OP = service.OPERATOR


def _scheduled(engine: Engine) -> dict[str, int]:
    """Three firms asking both banks, a fourth asking for nobody (and with no need, so no
    stand-in either), the schedule announced."""
    w = build(engine, firms=3)
    ids = w.ids
    with unit_of_work(engine) as s:
        f4 = factories.enterprise(4, zone_id=ids["z1"], name="无意向科技")
        s.add(f4)
        s.flush()
        ids["f4"] = f4.id
        service.register_enterprise(s, OP, ids["event"], f4.id)
        for n in (1, 2, 3):
            f = ids[f"f{n}"]
            requests.set_preferences(
                s, firm_user(f), ids["event"], "enterprise", f, [ids["A"], ids["B"]], BOOKING
            )
        requests.set_preferences(
            s, bank_user(ids["A"]), ids["event"], "institution", ids["A"], [ids["f1"]], BOOKING
        )
        scheduling.plan(s, OP, ids["event"], time_limit_s=5, announce_it=True)
    return ids


def test_an_agenda_reads_back_as_xlsx_and_ics_in_both_languages(engine: Engine) -> None:
    ids = _scheduled(engine)
    with unit_of_work(engine) as s:
        ag = agendas.agenda(s, firm_user(ids["f1"]), ids["event"], "enterprise", ids["f1"])
        ev = service.event(s, OP, ids["event"])
        assert len(ag.items) == 2
        assert {i.institution_id for i in ag.items} == {ids["A"], ids["B"]}
        assert any(i.mutual for i in ag.items)  # f1 and bank A asked each other
        files = {
            lang: (agendas.agenda_xlsx(ag, lang), agendas.agenda_ics(ag, ev, lang))
            for lang in ("zh", "en")
        }
    for lang, (xlsx, ics) in files.items():
        sheet = load_workbook(io.BytesIO(xlsx)).active
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[1][0] == ("时间" if lang == "zh" else "Time")
        body = rows[2:]
        assert [r[3] for r in body] == [i.institution_name for i in ag.items]
        assert [r[0] for r in body] == [i.starts_at.strftime("%Y-%m-%d %H:%M") for i in ag.items]
        cal = Calendar.from_ical(ics)
        events = cal.walk("VEVENT")
        assert len(events) == 2
        for entry, item in zip(events, ag.items, strict=True):
            start = entry.decoded("dtstart")
            assert start == item.starts_at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
            assert entry.decoded("dtend") - start == dt.timedelta(minutes=30)
            summary = str(entry.get("summary"))
            assert item.institution_name in summary
            assert summary.startswith("对接" if lang == "zh" else "Meeting")
            assert str(entry.get("uid")).startswith(f"event-{ids['event']}-{ids['f1']}-")
            assert ev.venue in str(entry.get("location"))


def test_agendas_are_each_participants_own(engine: Engine) -> None:
    ids = _scheduled(engine)
    with unit_of_work(engine) as s:
        with pytest.raises(NotFound):  # another firm's agenda does not exist for f2
            agendas.agenda(s, firm_user(ids["f2"]), ids["event"], "enterprise", ids["f1"])
        with pytest.raises(NotFound):
            agendas.agenda(s, bank_user(ids["B"]), ids["event"], "institution", ids["A"])
        with pytest.raises(Forbidden):  # bank B sees f1 at the event, but not its agenda
            agendas.agenda(s, bank_user(ids["B"]), ids["event"], "enterprise", ids["f1"])
        bank = agendas.agenda(s, bank_user(ids["A"]), ids["event"], "institution", ids["A"])
        assert {i.enterprise_id for i in bank.items} == {ids["f1"], ids["f2"], ids["f3"]}
        assert agendas.agenda(s, officer("甲省"), ids["event"], "enterprise", ids["f1"]).items


def test_master_timetable_badges_and_reminders(engine: Engine) -> None:
    ids = _scheduled(engine)
    with unit_of_work(engine) as s:
        grid = agendas.master_timetable(s, OP, ids["event"])
        assert grid["slots"] == ["09:00", "09:30", "14:00"]
        assert [r["desk"] for r in grid["rows"]] == [1, 2]
        filled = sum(1 for r in grid["rows"] for c in r["cells"] if c)
        assert filled == 6
        sheet = load_workbook(io.BytesIO(agendas.master_xlsx(grid, "en"))).active
        header = next(sheet.iter_rows(values_only=True))
        assert header[:3] == ("Desk", "Institution", "09:00")
        people = agendas.participants(s, OP, ids["event"])
        assert len(people) == 6 and len({p["badge"] for p in people}) == 6
        waiting = agendas.reminders(s, OP, ids["event"])
        assert [(p["kind"], p["id"], p["requests"]) for p in waiting] == [
            ("enterprise", ids["f4"], 0)
        ]
        with pytest.raises(Forbidden):
            agendas.reminders(s, officer("乙省"), ids["event"])


def _granted_line(
    engine: Engine, bank: int, firm: int, opens: dt.date, approve: bool = True
) -> int:
    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service as ledger

    maker = Actor(label="cli:maker", channel="cli")
    checker = Actor(label="cli:checker", channel="cli")
    spec = ledger.LineSpec(
        institution_id=bank,
        external_ref=f"LINE-{bank}-{firm}-{opens}",
        enterprise_id=firm,
        limit_amount=Decimal("3000000.00"),
        opens_on=opens,
        matures_on=opens + dt.timedelta(days=365),
        rate=Decimal("0.0345"),
    )
    line_id: int = perform(engine, lambda s: ledger.propose_line(s, maker, spec), maker).entity_id
    if approve:
        perform(engine, lambda s: ledger.approve_line(s, checker, line_id), checker)
    return line_id


def test_outcomes_link_credit_lines_and_the_report_counts_them(engine: Engine) -> None:
    ids = _scheduled(engine)
    event_id, a, f1, f2 = ids["event"], ids["A"], ids["f1"], ids["f2"]
    line = _granted_line(engine, a, f1, HELD_ON + dt.timedelta(days=20))
    _granted_line(engine, a, f2, HELD_ON + dt.timedelta(days=60))  # not linked: counted too
    pending = _granted_line(engine, a, f2, HELD_ON + dt.timedelta(days=5), approve=False)
    other = _granted_line(engine, ids["B"], f1, HELD_ON + dt.timedelta(days=5))
    bank_a = bank_user(a, ids["A1"])
    with unit_of_work(engine) as s:
        linked = outcomes.record_outcome(
            s, bank_a, event_id,
            OutcomeIn(enterprise_id=f1, institution_id=a, outcome="credit_line",
                      credit_line_id=line),
        )  # fmt: skip
        assert linked.credit_line_id == line
        with pytest.raises(Conflict, match="pending"):
            outcomes.record_outcome(
                s, bank_a, event_id,
                OutcomeIn(enterprise_id=f2, institution_id=a, outcome="credit_line",
                          credit_line_id=pending),
            )  # fmt: skip
        with pytest.raises(NotFound):  # bank B's line is not bank A's to name
            outcomes.record_outcome(
                s, bank_a, event_id,
                OutcomeIn(enterprise_id=f1, institution_id=a, outcome="credit_line",
                          credit_line_id=other),
            )  # fmt: skip
        with pytest.raises(NotFound):  # bank A does not see bank B's meetings
            outcomes.record_outcome(
                s,
                bank_a,
                event_id,
                OutcomeIn(enterprise_id=f1, institution_id=ids["B"], outcome="agreement"),
            )
        outcomes.record_outcome(
            s, OP, event_id,
            OutcomeIn(enterprise_id=ids["f3"], institution_id=a, outcome="no_show"),
        )  # fmt: skip
        outcomes.record_outcome(
            s, OP, event_id,
            OutcomeIn(enterprise_id=f2, institution_id=ids["B"], outcome="no_interest",
                      reason_code="too_early"),
        )  # fmt: skip
    with unit_of_work(engine) as s:
        rep = outcomes.event_report(s, event_id)
        by = {r.institution_id: r for r in rep.institutions}
        assert by[a].meetings_scheduled == 3 and by[a].meetings_held == 2 and by[a].no_shows == 1
        assert (by[a].credit_lines_30d, by[a].credit_30d) == (1, Decimal("3000000.00"))
        assert (by[a].credit_lines_90d, by[a].credit_90d) == (2, Decimal("6000000.00"))
        assert by[a].linked_credit_lines == 1
        assert by[ids["B"]].no_interest == 1 and by[ids["B"]].credit_lines_30d == 1
        assert rep.credit_lines_90d == 3
        own = outcomes.report_for(s, bank_user(ids["B"]), event_id)
        assert [r.institution_id for r in own.institutions] == [ids["B"]]
        seen = s.scalars(outcomes.outcomes_query(bank_user(ids["B"]), event_id)).all()
        assert [(o.enterprise_id, o.outcome) for o in seen] == [(f2, "no_interest")]

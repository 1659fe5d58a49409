"""What an event hands out: each participant's agenda (XLSX and iCalendar, in Chinese or
English), the master timetable per desk, the name-badge list and the list of participants left
without a meeting (to remind or call).

Everything reads the announced schedule (a draft is the organiser's to look at, not anyone's
agenda). Desks are numbered across the venue: the institutions in id order, each with its desks
in turn, so "台 7" is one table in the hall.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.events import scopes
from innofin.events.models import (
    Event,
    EventEnterprise,
    EventInstitution,
    EventSchedule,
    Meeting,
    MeetingRequest,
)
from innofin.events.scheduling.service import current_schedule
from innofin.events.schemas import Agenda, AgendaItem
from innofin.events.service import event, organised, sessions, slot_times
from innofin.kernel.errors import Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Institution

Lang = Literal["zh", "en"]

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "time": "时间",
        "end": "结束",
        "desk": "台号",
        "enterprise": "企业",
        "institution": "金融机构",
        "mutual": "双向意向",
        "yes": "是",
        "no": "",
        "meeting_with": "对接：{other}",
        "agenda": "{name} · {party} 的日程",
        "desk_at": "{venue} · 台 {desk}",
        "none": "暂无已公布的对接安排",
        "badge": "胸牌",
        "kind": "类别",
        "name": "名称",
        "meetings": "对接场次",
        "requests": "意向数",
        "slot": "时段",
    },
    "en": {
        "time": "Time",
        "end": "Ends",
        "desk": "Desk",
        "enterprise": "Enterprise",
        "institution": "Institution",
        "mutual": "Both asked",
        "yes": "yes",
        "no": "",
        "meeting_with": "Meeting: {other}",
        "agenda": "{name} · agenda of {party}",
        "desk_at": "{venue} · desk {desk}",
        "none": "No meeting announced yet",
        "badge": "Badge",
        "kind": "Kind",
        "name": "Name",
        "meetings": "Meetings",
        "requests": "Requests",
        "slot": "Slot",
    },
}


def _lang(lang: str) -> Lang:
    if lang not in TEXT:
        raise InvalidInput(f"lang is zh or en, not {lang!r}", field="lang")
    return "zh" if lang == "zh" else "en"


@dataclass(frozen=True)
class Desks:
    """Venue-wide desk numbers: (institution, its desk 1…) → table number."""

    first: dict[int, int]

    def number(self, institution_id: int, desk: int) -> int:
        return self.first.get(institution_id, 0) + desk


def desks(session: Session, event_id: int) -> Desks:
    rows = session.execute(
        select(EventInstitution.institution_id, EventInstitution.desks)
        .where(EventInstitution.event_id == event_id)
        .order_by(EventInstitution.institution_id)
    ).all()
    first, total = {}, 0
    for inst, n in rows:
        first[int(inst)] = total
        total += int(n)
    return Desks(first)


def _announced(session: Session, event_id: int) -> EventSchedule | None:
    return current_schedule(session, event_id)


def agenda(session: Session, p: Principal, event_id: int, party: str, party_id: int) -> Agenda:
    """One participant's meetings in the announced schedule: its own (a firm, an institution of
    the caller's tree), or any participant's for the organiser."""
    ev = event(session, p, event_id)
    if party == "enterprise":
        model: Any = EventEnterprise
        column = EventEnterprise.enterprise_id
        registered = EventEnterprise.status.in_(("validated", "cancelled"))
        scope = scopes.event_enterprise_scope(p)
        name_of: Any = Enterprise
    elif party == "institution":
        model = EventInstitution
        column = EventInstitution.institution_id
        registered = EventInstitution.status.in_(("registered", "cancelled"))
        scope = scopes.event_institution_scope(p)
        name_of = Institution
    else:
        raise InvalidInput(f"party is enterprise or institution, not {party!r}", field="party")
    found = session.scalar(
        select(model.id).where(model.event_id == event_id, column == party_id, registered, scope)
    )
    if found is None:
        raise NotFound(f"{party} {party_id} has no agenda at event {event_id}")
    own = (party == "enterprise" and p.enterprise_id == party_id) or (
        party == "institution" and party_id in p.institution_ids
    )
    organiser = session.scalar(
        select(Event.id).where(Event.id == event_id, scopes.organiser_scope(p))
    )
    if not (own or organiser is not None):
        raise Forbidden(f"the agenda of {party} {party_id} is its own", field="party_id")
    name = session.get(name_of, party_id)
    assert name is not None
    sched = _announced(session, event_id)
    items: list[AgendaItem] = []
    if sched is not None:
        times = slot_times(ev, sessions(session, event_id))
        numbers = desks(session, event_id)
        mine = Meeting.enterprise_id if party == "enterprise" else Meeting.institution_id
        rows = session.execute(
            select(Meeting, Enterprise.name, Institution.name)
            .join(Enterprise, Enterprise.id == Meeting.enterprise_id)
            .join(Institution, Institution.id == Meeting.institution_id)
            .where(Meeting.schedule_id == sched.id, mine == party_id)
            .order_by(Meeting.slot, Meeting.institution_id, Meeting.desk)
        ).all()
        minutes = dt.timedelta(minutes=ev.slot_minutes)
        zone = ZoneInfo(ev.timezone)
        for m, firm, bank in rows:
            start = times[m.slot][1].replace(tzinfo=zone)  # wall-clock time at the venue
            items.append(
                AgendaItem(
                    slot=m.slot,
                    starts_at=start,
                    ends_at=start + minutes,
                    desk=str(numbers.number(m.institution_id, m.desk)),
                    enterprise_id=m.enterprise_id,
                    enterprise_name=firm,
                    institution_id=m.institution_id,
                    institution_name=bank,
                    mutual=m.mutual,
                )
            )
    return Agenda(
        event_id=event_id,
        event_name=ev.name,
        party=party,
        party_id=party_id,
        party_name=name.name,
        schedule_id=sched.id if sched is not None else None,
        items=items,
    )


def _other(item: AgendaItem, party: str) -> str:
    return item.institution_name if party == "enterprise" else item.enterprise_name


def agenda_xlsx(ag: Agenda, lang: str = "zh") -> bytes:
    """The agenda as a one-sheet workbook: time, end, desk, the other party, both asked."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    t = TEXT[_lang(lang)]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "agenda"
    sheet.append([t["agenda"].format(name=ag.event_name, party=ag.party_name)])
    sheet["A1"].font = Font(bold=True)
    other = t["institution"] if ag.party == "enterprise" else t["enterprise"]
    sheet.append([t["time"], t["end"], t["desk"], other, t["mutual"]])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for item in ag.items:
        sheet.append(
            [
                item.starts_at.strftime("%Y-%m-%d %H:%M"),
                item.ends_at.strftime("%H:%M"),
                item.desk,
                _other(item, ag.party),
                t["yes"] if item.mutual else t["no"],
            ]
        )
    if not ag.items:
        sheet.append([t["none"]])
    for column, width in zip("ABCDE", (18, 8, 8, 36, 10), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def agenda_ics(ag: Agenda, ev: Event, lang: str = "zh") -> bytes:
    """The agenda as an iCalendar file: one VEVENT a meeting, in the venue's time zone, with a
    stable UID per pair (so a re-sent agenda updates the calendar rather than adding to it)."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    t = TEXT[_lang(lang)]
    zone = ZoneInfo(ev.timezone)
    cal = Calendar()
    cal.add("prodid", "-//innofin//matchmaking agenda//" + lang.upper())
    cal.add("version", "2.0")
    cal.add("x-wr-calname", t["agenda"].format(name=ag.event_name, party=ag.party_name))
    cal.add("x-wr-timezone", ev.timezone)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for item in ag.items:
        entry = CalendarEvent()
        entry.add("uid", f"event-{ev.id}-{item.enterprise_id}-{item.institution_id}@innofin")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", item.starts_at.replace(tzinfo=zone))
        entry.add("dtend", item.ends_at.replace(tzinfo=zone))
        entry.add("summary", t["meeting_with"].format(other=_other(item, ag.party)))
        entry.add("location", t["desk_at"].format(venue=ev.venue, desk=item.desk))
        entry.add(
            "description",
            f"{ag.event_name}\n{t['enterprise']}: {item.enterprise_name}\n"
            f"{t['institution']}: {item.institution_name}\n{t['desk']}: {item.desk}",
        )
        cal.add_component(entry)
    return bytes(cal.to_ical())


# --------------------------------------------------------------------------- organiser's lists


def master_timetable(session: Session, p: Principal, event_id: int) -> dict[str, Any]:
    """The announced schedule per desk: rows (desk number, institution, its desk) × slots, each
    cell the firm met there (empty: free)."""
    ev = organised(session, p, event_id)
    times = slot_times(ev, sessions(session, event_id))
    sched = _announced(session, event_id)
    numbers = desks(session, event_id)
    banks = session.execute(
        select(EventInstitution.institution_id, EventInstitution.desks, Institution.name)
        .join(Institution, Institution.id == EventInstitution.institution_id)
        .where(EventInstitution.event_id == event_id, EventInstitution.status == "registered")
        .order_by(EventInstitution.institution_id)
    ).all()
    cells: dict[tuple[int, int], list[str]] = {}
    for inst, n, _name in banks:
        for d in range(1, n + 1):
            cells[(inst, d)] = [""] * len(times)
    if sched is not None:
        for m, firm in session.execute(
            select(Meeting, Enterprise.name)
            .join(Enterprise, Enterprise.id == Meeting.enterprise_id)
            .where(Meeting.schedule_id == sched.id)
        ):
            if (m.institution_id, m.desk) in cells:
                cells[(m.institution_id, m.desk)][m.slot] = firm
    rows = [
        {
            "desk": numbers.number(inst, d),
            "institution_id": inst,
            "institution_name": name,
            "cells": cells[(inst, d)],
        }
        for inst, n, name in banks
        for d in range(1, n + 1)
    ]
    return {
        "event_id": event_id,
        "schedule_id": sched.id if sched is not None else None,
        "slots": [t.strftime("%H:%M") for _, t in times],
        "rows": rows,
    }


def master_xlsx(table: dict[str, Any], lang: str = "zh") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    t = TEXT[_lang(lang)]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "timetable"
    sheet.append([t["desk"], t["institution"], *table["slots"]])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table["rows"]:
        sheet.append([row["desk"], row["institution_name"], *row["cells"]])
    sheet.freeze_panes = "C2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _counts(session: Session, event_id: int, column: Any) -> dict[int, int]:
    sched = _announced(session, event_id)
    if sched is None:
        return {}
    return {
        int(k): int(v)
        for k, v in session.execute(
            select(column, func.count()).where(Meeting.schedule_id == sched.id).group_by(column)
        )
    }


def participants(session: Session, p: Principal, event_id: int) -> list[dict[str, Any]]:
    """Every participant (validated firms, registered institutions) with its meetings in the
    announced schedule and its requests: the name-badge list, and with no meeting, the
    reminders list."""
    organised(session, p, event_id)
    firm_meetings = _counts(session, event_id, Meeting.enterprise_id)
    bank_meetings = _counts(session, event_id, Meeting.institution_id)
    own = _own_requests(session, event_id)
    out: list[dict[str, Any]] = []
    firms = session.execute(
        select(Enterprise.id, Enterprise.name, Enterprise.identifier)
        .join(EventEnterprise, EventEnterprise.enterprise_id == Enterprise.id)
        .where(EventEnterprise.event_id == event_id, EventEnterprise.status == "validated")
        .order_by(Enterprise.id)
    ).all()
    for n, (ident, name, code) in enumerate(firms, start=1):
        out.append(
            {
                "badge": f"E{n:04d}",
                "kind": "enterprise",
                "id": ident,
                "name": name,
                "code": code,
                "meetings": firm_meetings.get(ident, 0),
                "requests": own.get(("enterprise", ident), 0),
            }
        )
    banks = session.execute(
        select(Institution.id, Institution.name, Institution.code, EventInstitution.desks)
        .join(EventInstitution, EventInstitution.institution_id == Institution.id)
        .where(EventInstitution.event_id == event_id, EventInstitution.status == "registered")
        .order_by(Institution.id)
    ).all()
    for n, (ident, name, code, n_desks) in enumerate(banks, start=1):
        out.append(
            {
                "badge": f"I{n:04d}",
                "kind": "institution",
                "id": ident,
                "name": name,
                "code": code,
                "desks": n_desks,
                "meetings": bank_meetings.get(ident, 0),
                "requests": own.get(("institution", ident), 0),
            }
        )
    return out


def _own_requests(session: Session, event_id: int) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for side, firm, bank in session.execute(
        select(
            MeetingRequest.side, MeetingRequest.enterprise_id, MeetingRequest.institution_id
        ).where(MeetingRequest.event_id == event_id, MeetingRequest.source != "recommendation")
    ):
        key = (side, int(firm if side == "enterprise" else bank))
        out[key] = out.get(key, 0) + 1
    return out


def reminders(session: Session, p: Principal, event_id: int) -> list[dict[str, Any]]:
    """Participants with no meeting in the announced schedule (to remind to book, or call)."""
    return [x for x in participants(session, p, event_id) if x["meetings"] == 0]


def list_xlsx(rows: list[dict[str, Any]], lang: str = "zh") -> bytes:
    """The badge or reminders list as a workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    t = TEXT[_lang(lang)]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([t["badge"], t["kind"], t["name"], t["meetings"], t["requests"]])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        kind = t["enterprise"] if row["kind"] == "enterprise" else t["institution"]
        sheet.append([row["badge"], kind, row["name"], row["meetings"], row["requests"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = [
    "agenda",
    "agenda_ics",
    "agenda_xlsx",
    "desks",
    "list_xlsx",
    "master_timetable",
    "master_xlsx",
    "participants",
    "reminders",
]

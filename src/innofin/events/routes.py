"""REST endpoints of matchmaking meetings: events and their sessions, institutions and
enterprises at an event, requests, the timetable (plan, announce), agendas (JSON, XLSX,
iCalendar), the organiser's lists, outcomes and the event report.

The notice of an event is public to every signed-in caller; the organiser (the admin, a
programme office of its province, the zone officer of its zone) runs it; each participant reads
and books only its own (`events.scopes`)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request
from innofin.api.writes import write
from innofin.events import agendas, outcomes, requests, service
from innofin.events.models import Event
from innofin.events.schemas import (
    Agenda,
    EnterpriseAtEvent,
    EnterpriseJoin,
    EventCreate,
    EventDetail,
    EventFields,
    EventOut,
    EventReport,
    InstitutionAtEvent,
    InstitutionJoin,
    OutcomeIn,
    OutcomeOut,
    ParticipantStatus,
    Preferences,
    RequestOut,
    SessionOut,
)
from innofin.kernel.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)
EVENT_SORTS = {"id": Event.id, "held_on": Event.held_on}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS = "text/calendar"


class TimetableRow(BaseModel):
    desk: int
    institution_id: int
    institution_name: str
    cells: list[str]


class Timetable(BaseModel):
    event_id: int
    schedule_id: int | None
    slots: list[str]
    rows: list[TimetableRow]


class Participant(BaseModel):
    badge: str
    kind: str
    id: int
    name: str
    code: str
    desks: int | None = None
    meetings: int
    requests: int


def _detail(s: Any, ev: Event) -> EventDetail:
    rows = [SessionOut.model_validate(x) for x in service.sessions(s, ev.id)]
    return EventDetail.model_validate(
        {**EventOut.model_validate(ev).model_dump(), "sessions": rows}
    )


@router.get("/events", response_model=Page[EventOut], summary="Matchmaking events")
def list_events(
    request: Request,
    page: PageRequest = Depends(page_request),
    status: str | None = Query(None, pattern="^(open|closed|scheduled|held|cancelled)$"),
    p: Principal = allow("event:read"),
) -> Response:
    return list_page(request, service.events_query(p, status), page, None, EVENT_SORTS, EventOut)


@router.post("/events", status_code=201, response_model=EventDetail, summary="Create an event")
def create_event(
    request: Request,
    body: EventCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("event:organise"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: _detail(c.session, service.create_event(c.session, p, body, c.now)),
        status_code=201,
        payload=body,
    )


@router.get("/events/{event_id}", response_model=EventDetail, summary="One event and its sessions")
def get_event(request: Request, event_id: RowId, p: Principal = allow("event:read")) -> Response:
    with reading(request) as s:
        return ok(_detail(s, service.event(s, p, event_id)))


@router.patch("/events/{event_id}", response_model=EventDetail, summary="Change an event")
def update_event(
    request: Request,
    body: EventFields,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:organise"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: _detail(c.session, service.update_event(c.session, p, event_id, body)),
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


@router.get(
    "/events/{event_id}/institutions",
    response_model=list[InstitutionAtEvent],
    summary="Institutions at an event (an institution sees its own)",
)
def institutions(
    request: Request, event_id: RowId, p: Principal = allow("event:participate")
) -> Response:
    with reading(request) as s:
        return ok(service.institutions_at(s, p, event_id))


@router.post(
    "/events/{event_id}/institutions",
    status_code=201,
    response_model=InstitutionAtEvent,
    summary="Add an institution with its desks",
)
def add_institution(
    request: Request,
    body: InstitutionJoin,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:organise"),
) -> Response:
    def run(c: Any) -> InstitutionAtEvent:
        row = service.add_institution(
            c.session, p, event_id, body.institution_id, body.desks, body.max_meetings, c.now
        )
        (found,) = [x for x in service.institutions_at(c.session, p, event_id) if x.id == row.id]
        return found

    return write(request, p, w, run, status_code=201, payload=body)


@router.get(
    "/events/{event_id}/enterprises",
    response_model=list[EnterpriseAtEvent],
    summary="Enterprises at an event (to institutions by name only)",
)
def enterprises(
    request: Request, event_id: RowId, p: Principal = allow("event:participate")
) -> Response:
    with reading(request) as s:
        return ok(service.enterprises_at(s, p, event_id))


def _firm(c: Any, p: Principal, event_id: int, enterprise_id: int) -> EnterpriseAtEvent:
    (found,) = [
        x
        for x in service.enterprises_at(c.session, p, event_id)
        if x.enterprise_id == enterprise_id
    ]
    return found


@router.post(
    "/events/{event_id}/enterprises",
    status_code=201,
    response_model=EnterpriseAtEvent,
    summary="Register an enterprise (itself: pending; by the organiser: validated)",
)
def register_enterprise(
    request: Request,
    body: EnterpriseJoin,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:register"),
) -> Response:
    def run(c: Any) -> EnterpriseAtEvent:
        service.register_enterprise(
            c.session, p, event_id, body.enterprise_id, body.max_meetings, c.now
        )
        return _firm(c, p, event_id, body.enterprise_id)

    return write(request, p, w, run, status_code=201, payload=body)


@router.patch(
    "/events/{event_id}/enterprises/{enterprise_id}",
    response_model=EnterpriseAtEvent,
    summary="Validate, reject or cancel a registration",
)
def set_enterprise_status(
    request: Request,
    body: ParticipantStatus,
    event_id: RowId,
    enterprise_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:register"),
) -> Response:
    def run(c: Any) -> EnterpriseAtEvent:
        service.set_enterprise_status(c.session, p, event_id, enterprise_id, body.status, c.now)
        return _firm(c, p, event_id, enterprise_id)

    return write(request, p, w, run, payload=body)


@router.get(
    "/events/{event_id}/requests",
    response_model=list[RequestOut],
    summary="Meeting requests (each side its own; the organiser all)",
)
def list_requests(
    request: Request,
    event_id: RowId,
    side: Literal["enterprise", "institution"] | None = Query(None),
    p: Principal = allow("event:request"),
) -> Response:
    with reading(request) as s:
        service.event(s, p, event_id)
        rows = s.scalars(requests.requests_query(p, event_id, side)).all()
        return ok([RequestOut.model_validate(r) for r in rows])


class PreferencesOut(BaseModel):
    """The participant's requests as stored, most wanted first."""

    requests: list[RequestOut]


@router.put(
    "/events/{event_id}/preferences",
    response_model=PreferencesOut,
    summary="One participant's requests, most wanted first (replacing its earlier ones)",
)
def set_preferences(
    request: Request,
    body: Preferences,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:request"),
) -> Response:
    def run(c: Any) -> PreferencesOut:
        rows = requests.set_preferences(
            c.session, p, event_id, body.side, body.party_id, body.targets, c.now
        )
        return PreferencesOut(requests=[RequestOut.model_validate(r) for r in rows])

    return write(request, p, w, run, payload=body)


@router.get(
    "/events/{event_id}/agenda",
    response_model=Agenda,
    summary="A participant's agenda (JSON, XLSX or iCalendar; Chinese or English)",
    responses={200: {"content": {XLSX: {}, ICS: {}}}},
)
def agenda(
    request: Request,
    event_id: RowId,
    party: Literal["enterprise", "institution"] = Query(...),
    party_id: int = Query(..., ge=1, le=2_147_483_647),
    format: Literal["json", "xlsx", "ics"] = Query("json"),
    lang: Literal["zh", "en"] = Query("zh"),
    p: Principal = allow("event:agenda"),
) -> Response:
    with reading(request) as s:
        ag = agendas.agenda(s, p, event_id, party, party_id)
        ev = service.event(s, p, event_id)
        name = f"agenda-{ev.code}-{party}-{party_id}-{lang}"
        if format == "xlsx":
            body, media = agendas.agenda_xlsx(ag, lang), XLSX
        elif format == "ics":
            body, media = agendas.agenda_ics(ag, ev, lang), ICS
        else:
            return ok(ag)
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'},
    )


@router.get(
    "/events/{event_id}/timetable",
    response_model=Timetable,
    summary="The master timetable per desk (the organiser's)",
    responses={200: {"content": {XLSX: {}}}},
)
def timetable(
    request: Request,
    event_id: RowId,
    format: Literal["json", "xlsx"] = Query("json"),
    lang: Literal["zh", "en"] = Query("zh"),
    p: Principal = allow("event:schedule"),
) -> Response:
    with reading(request) as s:
        grid = agendas.master_timetable(s, p, event_id)
    if format == "xlsx":
        return Response(
            agendas.master_xlsx(grid, lang),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="timetable-{event_id}.xlsx"'},
        )
    return ok(Timetable.model_validate(grid))


@router.get(
    "/events/{event_id}/participants",
    response_model=list[Participant],
    summary="The name-badge list; with without_meetings, the reminders list",
)
def participants(
    request: Request,
    event_id: RowId,
    without_meetings: bool = Query(False),
    p: Principal = allow("event:schedule"),
) -> Response:
    with reading(request) as s:
        pick = agendas.reminders if without_meetings else agendas.participants
        return ok([Participant.model_validate(x) for x in pick(s, p, event_id)])


@router.get(
    "/events/{event_id}/outcomes",
    response_model=list[OutcomeOut],
    summary="Outcomes of the event's meetings (an institution its own)",
)
def list_outcomes(
    request: Request, event_id: RowId, p: Principal = allow("event:outcome")
) -> Response:
    with reading(request) as s:
        service.event(s, p, event_id)
        rows = s.scalars(outcomes.outcomes_query(p, event_id)).all()
        return ok([OutcomeOut.model_validate(r) for r in rows])


@router.post(
    "/events/{event_id}/outcomes",
    response_model=OutcomeOut,
    summary="Record what came of a meeting (a credit line names the ledger's line)",
)
def record_outcome(
    request: Request,
    body: OutcomeIn,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:outcome"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: outcomes.record_outcome(c.session, p, event_id, body, c.now),
        OutcomeOut,
        payload=body,
    )


@router.get(
    "/events/{event_id}/report",
    response_model=EventReport,
    summary="Meetings held, agreements, credit within 30/90 days, by institution",
)
def report(request: Request, event_id: RowId, p: Principal = allow("event:report")) -> Response:
    with reading(request) as s:
        return ok(outcomes.report_for(s, p, event_id))

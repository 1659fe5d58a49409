"""Matchmaking meeting pages: the events (a public notice), one event with its sessions — and,
for its organiser, the announced timetable per desk, the schedule's figures beside greedy and
the requests that could not be placed —, and a participant's agenda with its XLSX and
iCalendar downloads (the API's agenda endpoint, which the page's session cookie signs). Rows
come through the events room's use cases under the API's scopes."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from innofin.api.deps import RowId, reading
from innofin.events import agendas, service
from innofin.events.models import Event
from innofin.events.scheduling import service as scheduling
from innofin.kernel.errors import NotFound
from innofin.kernel.principal import Principal
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.render import render

router = APIRouter(include_in_schema=False)
LIMIT = 200


@router.get("/events")
def events(request: Request, p: Principal = page("event:read")) -> Response:
    with reading(request) as s:
        rows = s.scalars(service.events_query(p).order_by(Event.held_on.desc()).limit(LIMIT)).all()
    return render(request, "events/list.html", {"events": rows})


def _own_party(s: Session, p: Principal, event_id: int) -> tuple[str, int] | None:
    """The caller's own place at the event: its firm, or its institution (the first of its tree
    that takes part)."""
    if p.enterprise_id is not None:
        return "enterprise", p.enterprise_id
    for inst in service.institutions_at(s, p, event_id):
        if inst.institution_id in p.institution_ids:
            return "institution", inst.institution_id
    return None


@router.get("/events/{event_id}")
def event(request: Request, event_id: RowId, p: Principal = page("event:read")) -> Response:
    with reading(request) as s:
        ev = service.event(s, p, event_id)
        blocks = service.sessions(s, event_id)
        organiser = service.is_organiser(s, p, event_id)
        grid = agendas.master_timetable(s, p, event_id) if organiser else None
        announced = scheduling.current_schedule(s, event_id) if organiser else None
        own = _own_party(s, p, event_id)
    context = {
        "event": ev,
        "sessions": blocks,
        "organiser": organiser,
        "grid": grid,
        "schedule": announced,
        "own": own,
        "zh": i18n.language(request) == "zh",
    }
    return render(request, "events/event.html", context)


@router.get("/events/{event_id}/agenda")
def agenda(
    request: Request,
    event_id: RowId,
    party: str | None = Query(None, pattern="^(enterprise|institution)$"),
    party_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = page("event:agenda"),
) -> Response:
    with reading(request) as s:
        ev = service.event(s, p, event_id)
        chosen = (party, party_id) if party and party_id else _own_party(s, p, event_id)
        if chosen is None:
            raise NotFound(f"you have no agenda at event {event_id}")
        ag = agendas.agenda(s, p, event_id, chosen[0], chosen[1])
    lang = i18n.language(request)
    base = f"/api/v1/events/{event_id}/agenda?party={ag.party}&party_id={ag.party_id}&lang={lang}"
    context = {
        "event": ev,
        "agenda": ag,
        "xlsx": base + "&format=xlsx",
        "ics": base + "&format=ics",
    }
    return render(request, "events/agenda.html", context)

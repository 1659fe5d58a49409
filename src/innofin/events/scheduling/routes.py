"""REST endpoints of an event's timetable: the organiser's planned schedules, a plan (beside
greedy; re-planning keeps announced meetings), a schedule announced."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.writes import write
from innofin.events.scheduling import service as scheduling
from innofin.events.schemas import ScheduleOut, ScheduleRun
from innofin.kernel.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["events"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)


@router.get(
    "/events/{event_id}/schedules",
    response_model=list[ScheduleOut],
    summary="The event's planned schedules (the organiser's)",
)
def list_schedules(
    request: Request, event_id: RowId, p: Principal = allow("event:schedule")
) -> Response:
    with reading(request) as s:
        return ok([ScheduleOut.model_validate(x) for x in scheduling.schedules(s, p, event_id)])


@router.post(
    "/events/{event_id}/schedules",
    status_code=201,
    response_model=ScheduleOut,
    summary="Plan the timetable (beside greedy; re-planning keeps announced meetings)",
)
def plan(
    request: Request,
    body: ScheduleRun,
    event_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:schedule"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: scheduling.plan(
            c.session, p, event_id, body.time_limit_s, body.seed, body.announce, c.now
        ),
        ScheduleOut,
        status_code=201,
        payload=body,
    )


@router.post(
    "/events/{event_id}/schedules/{schedule_id}/announce",
    response_model=ScheduleOut,
    summary="Announce a planned schedule",
)
def announce(
    request: Request,
    event_id: RowId,
    schedule_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("event:schedule"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: scheduling.announce(c.session, p, event_id, schedule_id, c.now),
        ScheduleOut,
        payload={"schedule_id": schedule_id},
    )

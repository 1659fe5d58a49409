"""Who sees and changes what of matchmaking meetings: the row scopes of the events' tables, built
from the access policy's blocks (`innofin.access.policy`, where the actions are decided).

* An event's notice (date, venue, sessions) is public to every signed-in caller; its organiser
  — the admin, a programme office whose jurisdiction holds it, the zone officer of its zone —
  changes it, validates registrations, schedules and reads everything of it.
* An institution sees its own participation, requests, meetings and outcomes (and its
  branches'); an enterprise its own. A registered firm is shown to the event's institutions by
  name and field (never by identifier): registering for a matchmaking event is asking to be seen
  by its lenders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from innofin.access.policy import ENTERPRISE, INSTITUTION, PROGRAMME, ZONE, in_ids
from innofin.events.models import (
    Event,
    EventEnterprise,
    EventInstitution,
    MeetingOutcome,
    MeetingRequest,
)
from innofin.kernel.principal import Principal


def event_scope(p: Principal) -> ColumnElement[bool]:
    """Events whose notice the caller sees: every one (a meeting is announced publicly)."""
    return true()


def organiser_scope(p: Principal) -> ColumnElement[bool]:
    """Events the caller organises: the admin every one; a programme office those of its
    province (a national office every one); a zone officer its zone's."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) and p.org_kind == "government":
        clauses.append(true() if p.province is None else Event.province == p.province)
    if p.has(ZONE) and p.zone_id is not None:
        clauses.append(Event.zone_id == p.zone_id)
    return or_(false(), *clauses)


def organised_event_ids(p: Principal) -> Any:
    return select(Event.id).where(organiser_scope(p))


def participant_clauses(
    p: Principal, event_id: Any, enterprise_id: Any, institution_id: Any
) -> ColumnElement[bool]:
    """Rows of an event that name a firm and an institution: the organiser's, the institution's
    own (with its branches), the firm's own."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) or p.has(ZONE):
        clauses.append(event_id.in_(organised_event_ids(p)))
    if p.has(INSTITUTION) and institution_id is not None:
        clauses.append(in_ids(institution_id, p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None and enterprise_id is not None:
        clauses.append(enterprise_id == p.enterprise_id)
    return or_(false(), *clauses)


def event_institution_scope(p: Principal) -> ColumnElement[bool]:
    """Institutions at an event: the organiser and the event's enterprises see them all (an
    institution's name is public reference data to firms); an institution only its own."""
    if p.is_admin:
        return true()
    ei = EventInstitution
    clauses = [participant_clauses(p, ei.event_id, None, ei.institution_id)]
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(
            EventInstitution.event_id.in_(
                select(EventEnterprise.event_id).where(
                    EventEnterprise.enterprise_id == p.enterprise_id,
                    EventEnterprise.status == "validated",
                )
            )
        )
    return or_(*clauses)


def event_enterprise_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises at an event: the organiser all; a firm its own; an institution at the event
    the validated ones (by name and field, `records` leaves the identifier out)."""
    if p.is_admin:
        return true()
    ee = EventEnterprise
    clauses = [participant_clauses(p, ee.event_id, ee.enterprise_id, None)]
    if p.has(INSTITUTION) and p.institution_ids:
        clauses.append(
            (EventEnterprise.status == "validated")
            & EventEnterprise.event_id.in_(
                select(EventInstitution.event_id).where(
                    in_ids(EventInstitution.institution_id, p.institution_ids),
                    EventInstitution.status == "registered",
                )
            )
        )
    return or_(*clauses)


def request_scope(p: Principal) -> ColumnElement[bool]:
    """Requests: the organiser all; each side the requests it made."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) or p.has(ZONE):
        clauses.append(MeetingRequest.event_id.in_(organised_event_ids(p)))
    if p.has(INSTITUTION):
        clauses.append(
            (MeetingRequest.side == "institution")
            & in_ids(MeetingRequest.institution_id, p.institution_ids)
        )
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(
            (MeetingRequest.side == "enterprise")
            & (MeetingRequest.enterprise_id == p.enterprise_id)
        )
    return or_(false(), *clauses)


def meeting_scope(p: Principal, model: Any) -> ColumnElement[bool]:
    """Meetings (and their outcomes): the organiser all; each party its own."""
    return participant_clauses(p, model.event_id, model.enterprise_id, model.institution_id)


def outcome_write_scope(p: Principal) -> ColumnElement[bool]:
    """Outcomes the caller may record: the organiser's and the institution's own (a firm
    reports through them)."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) or p.has(ZONE):
        clauses.append(MeetingOutcome.event_id.in_(organised_event_ids(p)))
    if p.has(INSTITUTION):
        clauses.append(in_ids(MeetingOutcome.institution_id, p.institution_ids))
    return or_(false(), *clauses)

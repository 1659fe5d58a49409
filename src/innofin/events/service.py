"""Matchmaking meeting use cases: create an event with its sessions, register institutions
(with their desks) and enterprises (validated by the organiser), cancel a participation.

Each function takes the session of the caller's unit of work and a `Principal`; the row scopes
are `events.scopes`. Requests and preferences are in `requests`, the timetable in `scheduling`,
agendas and lists in `agendas`, outcomes and the event report in `outcomes`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import apply, visible, writable
from innofin.events import scopes
from innofin.events.models import (
    Event,
    EventEnterprise,
    EventInstitution,
    EventSession,
)
from innofin.events.schemas import (
    EnterpriseAtEvent,
    EventCreate,
    EventFields,
    InstitutionAtEvent,
)
from innofin.kernel.codes import Role
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Institution, Zone

#: the operator at the machine (the CLI): every row, as the platform admin
OPERATOR = Principal(
    user_id=0,
    username="cli",
    roles=frozenset({Role.PLATFORM_ADMIN}),
    organisation_id=0,
    org_kind="government",
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def label(p: Principal) -> str:
    return p.username if p.user_id else "cli"


# --------------------------------------------------------------------------- events


def events_query(p: Principal, status: str | None = None) -> Select[Any]:
    stmt = policy.scoped(select(Event), scopes.event_scope(p))
    if status is not None:
        stmt = stmt.where(Event.status == status)
    return stmt


def event(session: Session, p: Principal, event_id: int) -> Event:
    return visible(session, Event, event_id, scopes.event_scope(p), "event")


def organised(session: Session, p: Principal, event_id: int) -> Event:
    """The event if the caller organises it: 404 when it does not exist, 403 when the caller
    sees it but does not organise it."""
    row = event(session, p, event_id)
    writable(session, Event, event_id, scopes.organiser_scope(p), "event")
    return row


def is_organiser(session: Session, p: Principal, event_id: int) -> bool:
    found = session.scalar(select(Event.id).where(Event.id == event_id, scopes.organiser_scope(p)))
    return found is not None


def sessions(session: Session, event_id: int) -> list[EventSession]:
    return list(
        session.scalars(
            select(EventSession)
            .where(EventSession.event_id == event_id)
            .order_by(EventSession.number)
        )
    )


def _reach(
    session: Session, p: Principal, zone_id: int | None, province: str | None
) -> tuple[int | None, str | None]:
    """The event's reach from what was sent, within the caller's own: a zone's event carries
    its zone's province (so the provincial office reaches it too)."""
    if zone_id is not None:
        zone = visible(session, Zone, zone_id, policy.zone_write_scope(p), "zone")
        if province is not None and province != zone.province:
            raise InvalidInput(
                f"zone {zone_id} is in {zone.province}, not {province}", field="province"
            )
        return zone_id, zone.province
    if p.is_admin or p.is_national:
        return None, province
    if p.has(policy.PROGRAMME) and p.org_kind == "government" and p.province is not None:
        if province not in (None, p.province):
            raise Forbidden(
                f"you organise events of {p.province}, not of {province}", field="province"
            )
        return None, p.province
    if p.has(policy.ZONE) and p.zone_id is not None:
        own_zone = session.get(Zone, p.zone_id)
        assert own_zone is not None
        return p.zone_id, own_zone.province
    raise Forbidden("you may not organise an event", field="zone_id")


def create_event(
    session: Session, p: Principal, body: EventCreate, at: dt.datetime | None = None
) -> Event:
    """An organiser announces an event with its sessions (numbered in the order given, which
    must follow the clock)."""
    if session.scalar(select(Event.id).where(Event.code == body.code)) is not None:
        raise Conflict(f"there is already an event {body.code}")
    zone_id, province = _reach(session, p, body.zone_id, body.province)
    caps = {s.max_per_participant for s in body.sessions}
    if len(caps) > 1:
        raise InvalidInput(
            "one cap of meetings per participant serves every session (or none)",
            field="sessions",
        )
    starts = [s.starts for s in body.sessions]
    if starts != sorted(starts):
        raise InvalidInput("sessions must be given in the order of the day", field="sessions")
    for before, after in zip(body.sessions, body.sessions[1:], strict=False):
        end = dt.datetime.combine(body.held_on, before.starts) + dt.timedelta(
            minutes=body.slot_minutes * before.slots
        )
        if end > dt.datetime.combine(body.held_on, after.starts):
            raise InvalidInput(
                f"the session from {before.starts:%H:%M} runs past the next one's start",
                field="sessions",
            )
    values = body.model_dump(exclude={"sessions", "zone_id", "province"})
    row = Event(
        **values,
        zone_id=zone_id,
        province=province,
        status="open",
        created_by=label(p),
        created_at=at or now(),
    )
    session.add(row)
    session.flush()
    for number, spec in enumerate(body.sessions, start=1):
        session.add(EventSession(event_id=row.id, number=number, **spec.model_dump()))
    session.flush()
    return row


def update_event(session: Session, p: Principal, event_id: int, body: EventFields) -> Event:
    row = organised(session, p, event_id)
    changes = body.model_dump(exclude_unset=True)
    policy.check_reach_fields(p, "event", changes, "event")
    for name in ("name", "venue", "booking_opens", "booking_closes", "max_requests", "status"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be emptied", field=name)
    opens = changes.get("booking_opens", row.booking_opens)
    closes = changes.get("booking_closes", row.booking_closes)
    if closes < opens or closes > row.held_on:
        raise InvalidInput(
            "the booking window must close after it opens and no later than the event",
            field="booking_closes",
        )
    if changes.get("zone_id") is not None:
        zone = visible(session, Zone, changes["zone_id"], policy.zone_write_scope(p), "zone")
        changes["province"] = zone.province
    apply(row, changes)
    session.flush()
    writable(session, Event, event_id, scopes.organiser_scope(p), "event")
    return row


def slot_times(ev: Event, rows: list[EventSession]) -> list[tuple[int, dt.datetime]]:
    """Each slot of the event, in order: (session number, wall-clock start at the venue)."""
    out: list[tuple[int, dt.datetime]] = []
    for s in rows:
        first = dt.datetime.combine(ev.held_on, s.starts)
        out += [
            (s.number, first + dt.timedelta(minutes=ev.slot_minutes * k)) for k in range(s.slots)
        ]
    return out


# --------------------------------------------------------------------------- participants


def add_institution(
    session: Session,
    p: Principal,
    event_id: int,
    institution_id: int,
    desks: int,
    max_meetings: int | None = None,
    at: dt.datetime | None = None,
) -> EventInstitution:
    """The organiser adds an institution with its desks (again: its desks and cap change, and a
    cancelled one is registered again)."""
    organised(session, p, event_id)
    if session.get(Institution, institution_id) is None:
        raise NotFound(f"no institution {institution_id}")
    row = session.scalar(
        select(EventInstitution).where(
            EventInstitution.event_id == event_id,
            EventInstitution.institution_id == institution_id,
        )
    )
    if row is None:
        row = EventInstitution(
            event_id=event_id,
            institution_id=institution_id,
            registered_at=at or now(),
        )
        session.add(row)
    changes = {"desks": desks, "max_meetings": max_meetings, "status": "registered"}
    apply(row, {**changes, "cancelled_at": None})
    session.flush()
    return row


def register_enterprise(
    session: Session,
    p: Principal,
    event_id: int,
    enterprise_id: int,
    max_meetings: int | None = None,
    at: dt.datetime | None = None,
) -> EventEnterprise:
    """An enterprise registers itself (pending until the organiser validates it) within the
    booking window; an organiser registers one of the firms it oversees, validated at once."""
    ev = event(session, p, event_id)
    when = at or now()
    organiser = is_organiser(session, p, event_id)
    found = session.scalar(
        select(Enterprise.id).where(
            Enterprise.id == enterprise_id,
            policy.enterprise_scope(p) if organiser else policy.enterprise_write_scope(p),
        )
    )
    if found is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    if not organiser and p.enterprise_id != enterprise_id:
        raise Forbidden(
            f"only enterprise {enterprise_id} itself or the organiser registers it",
            field="enterprise_id",
        )
    if ev.status not in ("open", "scheduled") and not organiser:
        raise Conflict(f"event {ev.code} is {ev.status}: registration is closed")
    if not organiser and not ev.booking_opens <= when.date() <= ev.booking_closes:
        raise Conflict(
            f"registration for {ev.code} is open from {ev.booking_opens} to {ev.booking_closes}"
        )
    row = session.scalar(
        select(EventEnterprise).where(
            EventEnterprise.event_id == event_id, EventEnterprise.enterprise_id == enterprise_id
        )
    )
    if row is None:
        row = EventEnterprise(event_id=event_id, enterprise_id=enterprise_id, registered_at=when)
        session.add(row)
    elif not organiser and row.status in ("pending", "validated"):
        return row  # registered already: a second request changes nothing
    status = "validated" if organiser else "pending"
    changes: dict[str, Any] = {"status": status, "max_meetings": max_meetings, "cancelled_at": None}
    if organiser:
        changes |= {"validated_at": when, "validated_by": label(p)}
    apply(row, changes)
    session.flush()
    return row


def set_enterprise_status(
    session: Session,
    p: Principal,
    event_id: int,
    enterprise_id: int,
    status: str,
    at: dt.datetime | None = None,
) -> EventEnterprise:
    """The organiser validates or rejects a registration; the firm (or the organiser) cancels
    it. A cancellation after a schedule was announced is re-planned by `scheduling.reschedule`."""
    event(session, p, event_id)
    row = session.scalar(
        select(EventEnterprise).where(
            EventEnterprise.event_id == event_id,
            EventEnterprise.enterprise_id == enterprise_id,
            scopes.event_enterprise_scope(p),
        )
    )
    if row is None:
        raise NotFound(f"enterprise {enterprise_id} is not registered for event {event_id}")
    organiser = is_organiser(session, p, event_id)
    own = p.enterprise_id == enterprise_id and p.has(policy.ENTERPRISE)
    if status in ("validated", "rejected") and not organiser:
        raise Forbidden("only the organiser validates a registration", field="status")
    if status == "cancelled" and not (organiser or own):
        raise Forbidden("only the firm or the organiser cancels a registration", field="status")
    if status not in ("validated", "rejected", "cancelled"):
        raise InvalidInput(f"an enterprise's registration cannot be {status}", field="status")
    when = at or now()
    changes: dict[str, Any] = {"status": status}
    if status == "validated":
        changes |= {"validated_at": when, "validated_by": label(p), "cancelled_at": None}
    if status == "cancelled":
        changes["cancelled_at"] = when
    apply(row, changes)
    session.flush()
    return row


def set_institution_status(
    session: Session,
    p: Principal,
    event_id: int,
    institution_id: int,
    status: str,
    at: dt.datetime | None = None,
) -> EventInstitution:
    """The organiser (or the institution itself) cancels its participation, or registers it
    again."""
    event(session, p, event_id)
    row = session.scalar(
        select(EventInstitution).where(
            EventInstitution.event_id == event_id,
            EventInstitution.institution_id == institution_id,
            scopes.event_institution_scope(p),
        )
    )
    if row is None:
        raise NotFound(f"institution {institution_id} is not at event {event_id}")
    organiser = is_organiser(session, p, event_id)
    own = p.has(policy.INSTITUTION) and institution_id in p.institution_ids
    if status not in ("cancelled", "registered"):
        raise InvalidInput(f"an institution's participation cannot be {status}", field="status")
    if not (organiser or (own and status == "cancelled")):
        raise Forbidden("only the organiser (or the institution, to cancel) changes this")
    apply(row, {"status": status, "cancelled_at": (at or now()) if status == "cancelled" else None})
    session.flush()
    return row


def institutions_at(session: Session, p: Principal, event_id: int) -> list[InstitutionAtEvent]:
    event(session, p, event_id)
    rows = session.execute(
        select(EventInstitution, Institution.name)
        .join(Institution, Institution.id == EventInstitution.institution_id)
        .where(EventInstitution.event_id == event_id, scopes.event_institution_scope(p))
        .order_by(EventInstitution.id)
    ).all()
    return [
        InstitutionAtEvent(
            id=r.id,
            institution_id=r.institution_id,
            name=name,
            desks=r.desks,
            max_meetings=r.max_meetings,
            status=r.status,
        )
        for r, name in rows
    ]


def enterprises_at(session: Session, p: Principal, event_id: int) -> list[EnterpriseAtEvent]:
    """The event's firms the caller may see; the identifier only where the caller sees the
    enterprise's record itself (organisers, the firm)."""
    event(session, p, event_id)
    rows = session.execute(
        select(EventEnterprise, Enterprise.name, Enterprise.identifier, Enterprise.tech_field)
        .join(Enterprise, Enterprise.id == EventEnterprise.enterprise_id)
        .where(EventEnterprise.event_id == event_id, scopes.event_enterprise_scope(p))
        .order_by(EventEnterprise.id)
    ).all()
    organiser = is_organiser(session, p, event_id)
    return [
        EnterpriseAtEvent(
            id=r.id,
            enterprise_id=r.enterprise_id,
            name=name,
            identifier=ident if organiser or r.enterprise_id == p.enterprise_id else None,
            tech_field=field,
            status=r.status,
        )
        for r, name, ident, field in rows
    ]

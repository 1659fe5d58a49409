"""Tables of matchmaking meetings (银企对接会).

* `event` — one meeting day: date, venue, the length of its slots (20–30 minutes), the window in
  which participants book meetings, the cap on requests per participant, and its organiser's
  reach (`zone_id` for a zone's event, `province` for a province's; both empty: national).
* `event_session` — a block of consecutive slots (morning, afternoon …); a many-to-one session
  lets several institutions meet one firm at once (as zone service centres run them).
* `event_institution` — an institution taking part, with its number of desks (tables).
* `event_enterprise` — an enterprise registered for the event; the organiser validates it.
* `meeting_request` — one side asks to meet the other, ranked (1 = most wanted); requests
  that stand in from matching's recommendations say so (``source = 'recommendation'``).
* `event_schedule` — one solve of the timetable: solver, its version and parameters, status,
  objective, bound and gap, and the greedy schedule's figures of the same instance; the
  schedule it re-plans (``base_id``) and how many announced meetings it moved or dropped.
* `meeting` — a meeting of a schedule: enterprise × institution in a slot at a desk.
* `meeting_outcome` — what came of a pair's meeting: follow-up, agreement, a credit line
  (linked to the ledger's line once granted), no interest (with a reason), or no-show.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import innofin.ledger.models
import innofin.registry.models  # noqa: F401
from innofin.audit.recorder import Audited
from innofin.db.base import Base, JsonDoc, Money, UtcDateTime

EVENT_STATUSES = ("open", "closed", "scheduled", "held", "cancelled")
SESSION_KINDS = ("one_to_one", "many_to_one")
ENTERPRISE_STATUSES = ("pending", "validated", "rejected", "cancelled")
INSTITUTION_STATUSES = ("registered", "cancelled")
SIDES = ("enterprise", "institution")
REQUEST_SOURCES = ("own", "recommendation", "organiser")
SCHEDULE_STATUSES = ("draft", "announced", "superseded")
OUTCOMES = ("follow_up", "agreement", "credit_line", "no_interest", "no_show")
NO_INTEREST_REASONS = (
    "outside_fields",
    "too_early",
    "amount_mismatch",
    "risk",
    "terms",
    "already_financed",
    "other",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Event(Audited, Base):
    """A matchmaking meeting (银企对接会): a day of slots at a venue, and who may book when."""

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 20 AND 30", name="slot_minutes_plausible"),
        CheckConstraint("max_requests BETWEEN 1 AND 100", name="max_requests_plausible"),
        CheckConstraint("booking_closes >= booking_opens", name="booking_window_ordered"),
        CheckConstraint("booking_closes <= held_on", name="booking_before_event"),
        CheckConstraint(_one_of("status", EVENT_STATUSES), name="status_known"),
        Index("ix_event_held_on", "held_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    held_on: Mapped[dt.date] = mapped_column(Date)
    venue: Mapped[str] = mapped_column(String(200))
    #: IANA time zone of the venue; slot times are wall-clock times there
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    booking_opens: Mapped[dt.date] = mapped_column(Date)
    booking_closes: Mapped[dt.date] = mapped_column(Date)
    #: requests a participant may make (uncapped requests mostly produce meetings not held)
    max_requests: Mapped[int] = mapped_column(Integer, default=8)
    #: the organiser's reach: a zone's event, a province's (zone_id NULL) or national (both NULL)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    province: Mapped[str | None] = mapped_column(String(40))
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class EventSession(Audited, Base):
    """Consecutive slots of an event from ``starts`` (wall-clock time at the venue)."""

    __tablename__ = "event_session"
    __table_args__ = (
        UniqueConstraint("event_id", "number"),
        CheckConstraint("slots BETWEEN 1 AND 48", name="slots_plausible"),
        CheckConstraint(_one_of("kind", SESSION_KINDS), name="kind_known"),
        CheckConstraint("max_per_participant IS NULL OR max_per_participant >= 1", name="cap"),
        CheckConstraint(
            "(kind = 'one_to_one' AND group_size = 1) OR "
            "(kind = 'many_to_one' AND group_size BETWEEN 2 AND 10)",
            name="group_size_fits_kind",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(80))
    starts: Mapped[dt.time] = mapped_column(Time)
    slots: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12), default="one_to_one")
    #: institutions that meet one firm at once (1 in a one-to-one session)
    group_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: meetings one participant may have in this session (none: as many as slots)
    max_per_participant: Mapped[int | None] = mapped_column(Integer)


class EventInstitution(Audited, Base):
    """An institution at the event with its desks; ``max_meetings`` caps its meetings."""

    __tablename__ = "event_institution"
    __table_args__ = (
        UniqueConstraint("event_id", "institution_id"),
        CheckConstraint("desks BETWEEN 1 AND 50", name="desks_plausible"),
        CheckConstraint("max_meetings IS NULL OR max_meetings >= 0", name="cap_nonneg"),
        CheckConstraint(_one_of("status", INSTITUTION_STATUSES), name="status_known"),
        Index("ix_event_institution_institution", "institution_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    desks: Mapped[int] = mapped_column(Integer, default=1)
    max_meetings: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="registered")
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class EventEnterprise(Audited, Base):
    """An enterprise registered for the event: pending until the organiser validates it."""

    __tablename__ = "event_enterprise"
    __table_args__ = (
        UniqueConstraint("event_id", "enterprise_id"),
        CheckConstraint("max_meetings IS NULL OR max_meetings >= 0", name="cap_nonneg"),
        CheckConstraint(_one_of("status", ENTERPRISE_STATUSES), name="status_known"),
        Index("ix_event_enterprise_enterprise", "enterprise_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    max_meetings: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    validated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    validated_by: Mapped[str | None] = mapped_column(String(120))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class MeetingRequest(Audited, Base):
    """One side asks to meet the other at an event, ranked (1 = most wanted)."""

    __tablename__ = "meeting_request"
    __table_args__ = (
        UniqueConstraint("event_id", "side", "enterprise_id", "institution_id"),
        CheckConstraint(_one_of("side", SIDES), name="side_known"),
        CheckConstraint(_one_of("source", REQUEST_SOURCES), name="source_known"),
        CheckConstraint("rank >= 1", name="rank_positive"),
        Index("ix_meeting_request_pair", "event_id", "enterprise_id", "institution_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(12))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    rank: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="own")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class EventSchedule(Audited, Base):
    """One solve of an event's timetable, with what produced it and the greedy schedule's
    figures of the same instance beside it. ``result`` holds the report of requests that could
    not be scheduled (each with why) and the changes to the announced schedule it re-plans."""

    __tablename__ = "event_schedule"
    __table_args__ = (
        CheckConstraint(_one_of("status", SCHEDULE_STATUSES), name="status_known"),
        Index("ix_event_schedule_event", "event_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    #: the announced schedule this one re-plans (late registrations, cancellations)
    base_id: Mapped[int | None] = mapped_column(ForeignKey("event_schedule.id"))
    #: the solvers used, with their versions ("HiGHS 1.12.0 + CP-SAT 9.15")
    solver: Mapped[str] = mapped_column(String(120))
    solver_version: Mapped[str] = mapped_column(String(60))
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    solver_status: Mapped[str] = mapped_column(String(40))
    objective: Mapped[float | None] = mapped_column(Float)
    bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    meetings: Mapped[int] = mapped_column(Integer, default=0)
    mutual_meetings: Mapped[int] = mapped_column(Integer, default=0)
    greedy_objective: Mapped[float | None] = mapped_column(Float)
    greedy_meetings: Mapped[int | None] = mapped_column(Integer)
    greedy_mutual_meetings: Mapped[int | None] = mapped_column(Integer)
    requested_pairs: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    announced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Meeting(Base):
    """A meeting of a schedule: the firm meets the institution in slot ``slot`` (0-based over the
    event's sessions) at the institution's desk ``desk`` (1-based)."""

    __tablename__ = "meeting"
    __table_args__ = (
        UniqueConstraint("schedule_id", "enterprise_id", "institution_id", name="uq_meeting_pair"),
        UniqueConstraint(
            "schedule_id", "institution_id", "slot", "desk", name="uq_meeting_desk_slot"
        ),
        CheckConstraint("slot >= 0", name="slot_nonneg"),
        CheckConstraint("desk >= 1", name="desk_positive"),
        Index("ix_meeting_enterprise", "event_id", "enterprise_id"),
        Index("ix_meeting_institution", "event_id", "institution_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("event_schedule.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    slot: Mapped[int] = mapped_column(Integer)
    desk: Mapped[int] = mapped_column(Integer)
    mutual: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float)


class MeetingOutcome(Audited, Base):
    """What came of the meeting of a firm and an institution at an event (one row a pair, so it
    survives a re-schedule). A credit line outcome names the ledger's line once it is granted."""

    __tablename__ = "meeting_outcome"
    __table_args__ = (
        UniqueConstraint("event_id", "enterprise_id", "institution_id"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome_known"),
        CheckConstraint(
            "outcome <> 'no_interest' OR reason_code IS NOT NULL", name="no_interest_has_reason"
        ),
        CheckConstraint(
            "reason_code IS NULL OR reason_code <> 'other' OR reason_text IS NOT NULL",
            name="other_reason_has_text",
        ),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    outcome: Mapped[str] = mapped_column(String(12))
    reason_code: Mapped[str | None] = mapped_column(String(30))
    reason_text: Mapped[str | None] = mapped_column(String(500))
    #: the amount agreed or intended (an agreement, a credit line still to be granted)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    credit_line_id: Mapped[int | None] = mapped_column(ForeignKey("credit_line.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

"""Pydantic shapes of matchmaking meetings: events in and out, registrations, preferences,
schedules, agendas, outcomes and the event report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from innofin.kernel.jsontypes import AmountIn, AmountJson, IsoDate, Text500

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Day = Annotated[IsoDate, Field(ge=dt.date(1900, 1, 1), le=dt.date(2200, 12, 31))]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _clock(value: object) -> object:
    """A wall-clock time at the venue, written HH:MM (no seconds, no offset: the event's time
    zone says where)."""
    if isinstance(value, str):
        import re

        if re.fullmatch(HHMM, value) is None:
            raise ValueError("a time of day is written HH:MM, e.g. 09:30")
        return dt.time(int(value[:2]), int(value[3:]))
    return value


def _zone(name: str) -> str:
    """An IANA time zone the agendas' calendars can name (Asia/Shanghai, Asia/Urumqi, …)."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise ValueError(f"{name!r} is not a time zone (such as Asia/Shanghai)") from None
    return name


#: a time of day as HH:MM in both directions (JSON Schema's "time" format wants an offset)
Clock = Annotated[
    dt.time,
    BeforeValidator(_clock),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": HHMM}),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionSpec(_In):
    """A block of consecutive slots from `starts` (wall-clock time at the venue)."""

    starts: Clock
    slots: int = Field(ge=1, le=48)
    name: Annotated[str, Field(max_length=80)] | None = None
    kind: Literal["one_to_one", "many_to_one"] = "one_to_one"
    #: institutions meeting one firm at once in a many-to-one session (3 when not given)
    group_size: int | None = Field(None, ge=1, le=10)
    max_per_participant: int | None = Field(None, ge=1, le=48)

    @model_validator(mode="after")
    def _group(self) -> SessionSpec:
        if self.kind == "one_to_one":
            if self.group_size not in (None, 1):
                raise ValueError("a one-to-one session has a group size of 1")
            self.group_size = 1
        elif self.group_size is None:
            self.group_size = 3
        elif self.group_size < 2:
            raise ValueError("a many-to-one session seats at least 2 institutions with a firm")
        return self


class EventCreate(_In):
    code: Code
    name: Name
    name_en: Name | None = None
    held_on: Day
    venue: Name
    timezone: Annotated[str, AfterValidator(_zone), Field(max_length=40)] = "Asia/Shanghai"
    slot_minutes: int = Field(30, ge=20, le=30)
    booking_opens: Day
    booking_closes: Day
    max_requests: int = Field(8, ge=1, le=100)
    zone_id: Id | None = None
    province: Annotated[str, Field(max_length=40)] | None = None
    programme_id: Id | None = None
    sessions: list[SessionSpec] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _window(self) -> EventCreate:
        if self.booking_closes < self.booking_opens:
            raise ValueError("booking_closes is before booking_opens")
        if self.booking_closes > self.held_on:
            raise ValueError("booking_closes is after the event (held_on)")
        return self


class EventFields(_In):
    """What a PATCH may send. `zone_id` and `province` decide who organises the event: only a
    role above them may change them (sent anyway by another, they are refused by name)."""

    name: Name | None = None
    name_en: Name | None = None
    venue: Name | None = None
    booking_opens: Day | None = None
    booking_closes: Day | None = None
    max_requests: int | None = Field(None, ge=1, le=100)
    status: Literal["open", "closed", "held", "cancelled"] | None = None
    zone_id: Id | None = None
    province: Annotated[str, Field(max_length=40)] | None = None


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    name: str | None
    starts: Clock
    slots: int
    kind: str
    group_size: int
    max_per_participant: int | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str | None
    held_on: dt.date
    venue: str
    timezone: str
    slot_minutes: int
    booking_opens: dt.date
    booking_closes: dt.date
    max_requests: int
    zone_id: int | None
    province: str | None
    status: str


class EventDetail(EventOut):
    sessions: list[SessionOut]


class InstitutionJoin(_In):
    institution_id: Id
    desks: int = Field(1, ge=1, le=50)
    max_meetings: int | None = Field(None, ge=0, le=500)


class EnterpriseJoin(_In):
    enterprise_id: Id
    max_meetings: int | None = Field(None, ge=0, le=100)


class ParticipantStatus(_In):
    status: Literal["validated", "rejected", "cancelled", "registered"]


class InstitutionAtEvent(BaseModel):
    id: int
    institution_id: int
    name: str
    desks: int
    max_meetings: int | None
    status: str


class EnterpriseAtEvent(BaseModel):
    """A registered firm as its viewer may see it (the identifier only for organisers and the
    firm itself)."""

    id: int
    enterprise_id: int
    name: str
    identifier: str | None
    tech_field: str | None
    status: str


class Preferences(_In):
    """One participant's requests, most wanted first (replacing its earlier ones)."""

    side: Literal["enterprise", "institution"]
    party_id: Id
    targets: list[Id] = Field(max_length=100)


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    side: str
    enterprise_id: int
    institution_id: int
    rank: int
    source: str


class ScheduleRun(_In):
    time_limit_s: float = Field(10.0, gt=0, le=600)
    seed: int = Field(0, ge=0, le=2_147_483_647)
    announce: bool = False


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    base_id: int | None
    solver: str
    solver_version: str
    parameters: dict[str, Any]
    solver_status: str
    objective: float | None
    bound: float | None
    gap: float | None
    meetings: int
    mutual_meetings: int
    greedy_objective: float | None
    greedy_meetings: int | None
    greedy_mutual_meetings: int | None
    requested_pairs: int
    moved: int
    dropped: int
    result: dict[str, Any]
    seconds: float | None
    status: str
    announced_at: dt.datetime | None


class AgendaItem(BaseModel):
    slot: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    desk: str
    enterprise_id: int
    enterprise_name: str
    institution_id: int
    institution_name: str
    mutual: bool


class Agenda(BaseModel):
    event_id: int
    event_name: str
    party: str
    party_id: int
    party_name: str
    schedule_id: int | None
    items: list[AgendaItem]


class OutcomeIn(_In):
    enterprise_id: Id
    institution_id: Id
    outcome: Literal["follow_up", "agreement", "credit_line", "no_interest", "no_show"]
    reason_code: (
        Literal[
            "outside_fields",
            "too_early",
            "amount_mismatch",
            "risk",
            "terms",
            "already_financed",
            "other",
        ]
        | None
    ) = None
    reason_text: Text500 | None = None
    amount: AmountIn | None = None
    credit_line_id: Id | None = None
    note: Text500 | None = None


class OutcomeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    enterprise_id: int
    institution_id: int
    outcome: str
    reason_code: str | None
    reason_text: str | None
    amount: AmountJson | None
    credit_line_id: int | None
    note: str | None
    recorded_at: dt.datetime


class ReportRow(BaseModel):
    institution_id: int
    institution_name: str
    meetings_scheduled: int
    meetings_held: int
    no_shows: int
    follow_ups: int
    agreements: int
    no_interest: int
    credit_lines_30d: int
    credit_30d: AmountJson
    credit_lines_90d: int
    credit_90d: AmountJson
    linked_credit_lines: int


class EventReport(BaseModel):
    event_id: int
    held_on: dt.date
    institutions: list[ReportRow]
    meetings_scheduled: int
    meetings_held: int
    agreements: int
    credit_lines_90d: int
    credit_90d: AmountJson

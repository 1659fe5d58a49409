"""What a referral needs before it is made: the enterprise's consent to each institution, and
the response deadline — the programme's business days (`MatchingSetting`, default 2) on its
holiday calendar, counted from the referral's day in China Standard Time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.access.models import Consent
from innofin.matching.models import CalendarDay, MatchingSetting
from innofin.matching.referrals import engine as ref

DEFAULT_DAYS, DEFAULT_CALENDAR = 2, "CN"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_day(at: dt.datetime) -> dt.date:
    """The programme's calendar day of `at` (China Standard Time, UTC+8)."""
    return (at + dt.timedelta(hours=8)).date()


def calendar_days(session: Session, calendar: str) -> tuple[set[dt.date], set[dt.date]]:
    rows = session.execute(
        select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.calendar == calendar)
    ).all()
    return {d for d, k in rows if k == "holiday"}, {d for d, k in rows if k == "workday"}


def setting(session: Session, programme_id: int | None) -> tuple[int, str]:
    """A programme's response days and calendar (the defaults without a setting)."""
    row = session.get(MatchingSetting, programme_id) if programme_id is not None else None
    return (row.response_business_days, row.calendar) if row else (DEFAULT_DAYS, DEFAULT_CALENDAR)


def response_deadline(session: Session, programme_id: int | None, at: dt.datetime) -> dt.date:
    days, calendar = setting(session, programme_id)
    holidays, workdays = calendar_days(session, calendar)
    return ref.deadline(local_day(at), days, holidays, workdays)


def consented(session: Session, enterprise_id: int, institution_ids: Sequence[int]) -> set[int]:
    """Which of `institution_ids` the enterprise has an active consent for."""
    return set(
        session.scalars(
            select(Consent.institution_id).where(
                Consent.enterprise_id == enterprise_id,
                Consent.institution_id.in_(list(institution_ids)),
                Consent.withdrawn_at.is_(None),
            )
        )
    )
